import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import pg from 'pg'
import { createSilentLogger } from '../../../src/log.ts'
import { createListener } from '../../../src/queue/listener.ts'
import { z } from 'zod'
import { defineTask } from '../../../src/tasks/types.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const runs = new Map<string, number>()

/** Fails its first run (one attempt), finishes after a requeue: a job that ends twice. */
const secondTimeTask = defineTask({
  kind: 'second-time',
  payload: z.object({ label: z.string() }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload) {
    const n = (runs.get(payload.label) ?? 0) + 1
    runs.set(payload.label, n)
    if (n === 1) throw new Error('the first run fails')
    return { label: payload.label, runs: n, padding: 'x'.repeat(2000) }
  },
})

const TASKS = [secondTimeTask]
// Short TTLs so that the TTL case runs in seconds; the cleanup is called explicitly, never on a timer.
const ENV = { RQ_RESULT_TTL: '2', RQ_FAILURE_TTL: '3600', CLEANUP_INTERVAL_SECONDS: '3600' }

describe('status cache of ended jobs (issue 19)', () => {
  // `reader` serves the status polls and caches; `writer` is another runtime (its own pools and
  // LISTEN session) that runs the jobs, requeues and deletes.
  let reader: TestService
  let writer: TestService

  beforeAll(async () => {
    reader = await startTestService({ tasks: TASKS, env: ENV, worker: false })
    writer = await startTestService({ tasks: TASKS, env: ENV, databaseUrl: reader.databaseUrl })
  })
  afterAll(async () => {
    await writer?.close()
    await reader?.close()
  })

  const statusText = async (jobId: string) => {
    const response = await fetch(`${reader.baseUrl}/api/tasks/status/${jobId}`)
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
  }
  /** Changes the stored error or result without a NOTIFY: only a database read can show it. */
  const changeBehindTheCache = (jobId: string, output: object) =>
    sql`UPDATE pgboss.job SET output = ${JSON.stringify(output)}::jsonb WHERE id = ${jobId}`.execute(reader.db.db)

  async function failedJob(label: string): Promise<string> {
    const { job_id: jobId } = await (
      await fetch(`${reader.baseUrl}/api/tasks/second-time`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label }) })
    ).json()
    await waitForStatus(reader.baseUrl, jobId, ['failed'])
    return jobId
  }

  it("has every NOTIFY committed before a listener's sync() handled when sync() resolves", async () => {
    const listener = createListener({ url: reader.databaseUrl, channels: ['status_cache_sync_test'], log: createSilentLogger() })
    const notifier = new pg.Client({ connectionString: reader.databaseUrl })
    await notifier.connect()
    try {
      const heard: string[] = []
      listener.on('status_cache_sync_test', (payload) => heard.push(payload))
      await until('the listener to connect', async () => ((await listener.sync()) ? true : undefined), 10_000, 20)
      for (let i = 0; i < 20; i++) {
        await notifier.query(`SELECT pg_notify('status_cache_sync_test', '${i}')`)
        expect(await listener.sync()).toBe(true)
        expect(heard).toContain(String(i))
      }
    } finally {
      await notifier.end()
      await listener.close()
    }
  })

  it('answers an ended job from the cache, as the JSON a database read renders', async () => {
    const jobId = await failedJob('cached')
    // The worker's "ended" NOTIFY is sent after its commit, so it may evict the first reading it races with;
    // a reading is shown cached once a change made behind the cache (no NOTIFY) does not show in the next read.
    let cached: Awaited<ReturnType<typeof statusText>> | undefined
    await until('the ended body to be served from the cache', async () => {
      const first = await statusText(jobId)
      await changeBehindTheCache(jobId, { message: 'changed behind the cache' })
      const second = await statusText(jobId)
      await changeBehindTheCache(jobId, { message: 'the first run fails' })
      if (second.text === first.text) cached = first
      return cached
    }, 10_000, 20)
    expect(cached).toMatchObject({ status: 200, type: 'application/json' })
    expect(JSON.parse(cached!.text)).toMatchObject({ job_id: jobId, status: 'failed', error: 'the first run fails' })
    // The same body a read from the database gives (getStatus of the writer, which never cached it).
    expect(JSON.parse(cached!.text)).toEqual(await writer.queue.getStatus(jobId))
  })

  it('never answers the old body once a requeue in another runtime returned', async () => {
    const jobId = await failedJob('requeued')
    const failed = await statusText(jobId)
    expect((await statusText(jobId)).text).toBe(failed.text)
    await changeBehindTheCache(jobId, { message: 'the first run fails' })
    await writer.queue.requeue(jobId)
    // At once, not eventually: the reader confirms it has every NOTIFY committed before it answers.
    const after = JSON.parse((await statusText(jobId)).text)
    expect(after.status).not.toBe('failed')
    const finished = await waitForStatus(reader.baseUrl, jobId, ['finished'])
    expect(finished.result).toMatchObject({ label: 'requeued', runs: 2 })
  })

  it('never answers the old body once a delete in another runtime returned', async () => {
    const jobId = await failedJob('deleted')
    const failed = await statusText(jobId)
    expect((await statusText(jobId)).text).toBe(failed.text)
    await writer.queue.remove(jobId)
    const after = await statusText(jobId)
    expect(after.status).toBe(404)
    expect(JSON.parse(after.text)).toEqual({ error: expect.any(String), code: 'JobExpired', details: { job_id: jobId } })
  })

  it("answers 404 expired for a cached job once another runtime's TTL cleanup removed it", async () => {
    const jobId = await failedJob('ttl')
    await writer.queue.requeue(jobId)
    const finished = await waitForStatus(reader.baseUrl, jobId, ['finished'])
    const cached = await statusText(jobId)
    expect(JSON.parse(cached.text)).toEqual(finished)
    const expired = async () => {
      await writer.runtime.cleanup()
      const { rows } = await sql<{ expired: boolean }>`SELECT expired_at IS NOT NULL AS expired FROM housler._tasks WHERE job_id = ${jobId}`.execute(writer.db.db)
      return rows[0]?.expired || undefined
    }
    await until('the finished job to pass RQ_RESULT_TTL and be cleaned up', expired, 20_000, 200)
    const after = await statusText(jobId)
    expect(after.status).toBe(404)
    expect(JSON.parse(after.text)).toEqual({
      error: `Job ${jobId} has expired: its result was kept for its TTL and then deleted`,
      code: 'JobExpired',
      details: { job_id: jobId },
    })
  })
})
