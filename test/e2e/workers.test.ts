import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Runtime } from '../../src/runtime.ts'
import { openEffectRuntime, type EffectRuntime } from '../helpers/effect-runtime.ts'
import { killAll, spawnTestProcess, until } from '../helpers/processes.ts'

let harness: EffectRuntime
let runtime: Runtime
let client: pg.Client

const WORKER_ENV = {
  WORKER_CONCURRENCY: '4',
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  WORKER_POLL_INTERVAL_MS: '500',
  SHUTDOWN_GRACE_SECONDS: '20',
  LOG_LEVEL: 'warn',
}

const startWorker = async () => (await spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: runtime.url, ...WORKER_ENV })).child

beforeAll(async () => {
  harness = await openEffectRuntime({ env: WORKER_ENV, supervise: false })
  ;({ runtime, client } = harness)
})

afterAll(async () => {
  await killAll()
  await harness?.close()
})

describe('worker processes', () => {
  it('drain every job exactly once while one worker is SIGKILLed mid-job and another is SIGTERMed', async () => {
    const [first, second] = await Promise.all([startWorker(), startWorker(), startWorker()])
    const N = 150
    const ids = (await runtime.queue.enqueueMany(Array.from({ length: N }, (_, i) => ({ kind: 'effect', payload: { ms: 100 + (i % 5) * 40 } })))).map((outcome) => outcome.jobId)

    // Kill the first worker while it holds jobs.
    await until('the first worker to be running jobs', async () => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM test_starts WHERE pid = $1', [first.pid])
      return rows[0].n > 4 ? true : undefined
    })
    first.kill('SIGKILL')
    const { rows: killedRows } = await client.query(
      `SELECT s.job_id FROM test_starts s LEFT JOIN test_effects e USING (job_id) WHERE s.pid = $1 AND e.job_id IS NULL`,
      [first.pid],
    )
    expect(killedRows.length).toBeGreaterThan(0)

    // Ask the second to stop while it holds jobs: they must finish within the grace period.
    await until('the second worker to hold a running job', async () => {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM test_starts s LEFT JOIN test_effects e USING (job_id) WHERE s.pid = $1 AND e.job_id IS NULL`,
        [second.pid],
      )
      return rows[0].n > 0 ? true : undefined
    })
    const exited = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)))
    second.kill('SIGTERM')
    expect(await exited).toBe(0)
    const { rows: unfinished } = await client.query(
      `SELECT s.job_id FROM test_starts s LEFT JOIN test_effects e ON e.job_id = s.job_id AND e.pid = s.pid WHERE s.pid = $1 AND e.job_id IS NULL`,
      [second.pid],
    )
    expect(unfinished).toEqual([])

    // The third worker (and the recovered jobs of the first) finish the rest.
    await until('every job to finish', async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM housler.jobs WHERE status = 'finished'`)
      return rows[0].n === N ? true : undefined
    }, 90_000)
    const effects = await client.query('SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS d FROM test_effects')
    expect(effects.rows[0]).toEqual({ n: N, d: N })
    const statuses = await client.query(`SELECT status, count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) GROUP BY status`, [ids])
    expect(statuses.rows).toEqual([{ status: 'finished', n: N }])
    // Only jobs the killed worker had claimed ran more than once (at-least-once; the unique
    // constraint keeps the effect single even when the kill fell between effect and completion).
    const rerun = await client.query(`SELECT job_id FROM test_starts GROUP BY job_id HAVING count(*) > 1`)
    const claimedByKilled = await client.query('SELECT DISTINCT job_id FROM test_starts WHERE pid = $1', [first.pid])
    const killed = new Set(claimedByKilled.rows.map((row) => row.job_id))
    for (const row of rerun.rows) expect(killed.has(row.job_id)).toBe(true)
    expect(rerun.rows.length).toBeGreaterThanOrEqual(killedRows.length)
    console.log(`workers e2e: ${N} jobs, 1 SIGKILL (${killedRows.length} jobs in flight recovered), 1 SIGTERM drained, ${rerun.rows.length} re-runs, 0 lost, 0 duplicated effects`)
  }, 150_000)
})
