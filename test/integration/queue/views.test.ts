import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGates, echoTask, failTask } from '../../helpers/tasks.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

describe('operator views over a known mix of jobs, workers and failures', () => {
  const gates = createGates()
  let service: TestService
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    service = await startTestService({ tasks: [echoTask, failTask, gates.task], env: { WORKER_HEARTBEAT_SECONDS: '1' } })
    const q = service.queue
    ids.done1 = (await q.enqueue({ kind: 'echo', payload: { steps: 0 }, sessionId: 's-1' })).jobId
    ids.done2 = (await q.enqueue({ kind: 'echo', payload: { steps: 0 }, sessionId: 's-1' })).jobId
    ids.failed = (await q.enqueue({ kind: 'fail', payload: { message: 'parser exploded' }, sessionId: 's-2' })).jobId
    const arrival = gates.nextArrival()
    ids.running = (await q.enqueue({ kind: 'gate', payload: {}, sessionId: 's-3' })).jobId
    await arrival
    ids.scheduled = (await q.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })).jobId
    for (const id of [ids.done1, ids.done2]) await waitForStatus(service.baseUrl, id, ['finished'])
    await waitForStatus(service.baseUrl, ids.failed, ['failed'])
    // A worker that crashed a minute ago: its row stays, its heartbeat is stale.
    await sql`INSERT INTO housler._workers (id, host, pid, version, kinds, concurrency, heartbeat_seconds, started_at, last_heartbeat_at)
      VALUES ('ghost:1:abc', 'ghost', 1, '0.0.1', '{echo}', 2, 5, now() - interval '1 hour', now() - interval '1 minute')`.execute(service.db.db)
  })
  afterAll(async () => {
    for (const id of gates.waitingIds()) gates.release(id)
    await service?.close()
  })

  it('queue_stats counts each kind by status', async () => {
    const rows = await sql<{ kind: string; status: string; jobs: number }>`SELECT * FROM housler.queue_stats ORDER BY kind, status`.execute(service.db.db)
    expect(rows.rows).toEqual([
      { kind: 'echo', status: 'finished', jobs: 2 },
      { kind: 'echo', status: 'scheduled', jobs: 1 },
      { kind: 'fail', status: 'failed', jobs: 1 },
      { kind: 'gate', status: 'started', jobs: 1 },
    ])
  })

  it('failed_jobs lists the failure with its error and stack', async () => {
    const rows = await sql<Record<string, any>>`SELECT * FROM housler.failed_jobs`.execute(service.db.db)
    expect(rows.rows).toHaveLength(1)
    expect(rows.rows[0]).toMatchObject({ id: ids.failed, kind: 'fail', session_id: 's-2', error: 'parser exploded', attempts: 1 })
    expect(rows.rows[0].stack).toMatch(/Error: parser exploded\n\s+at /)
  })

  it('workers shows the live worker busy with the running job and the crashed one dead', async () => {
    const rows = await until('a busy worker row', async () => {
      const { rows } = await sql<Record<string, any>>`SELECT * FROM housler.workers ORDER BY host`.execute(service.db.db)
      return rows.some((row) => row.state === 'busy') ? rows : undefined
    }, 10_000, 50)
    expect(rows).toHaveLength(2)
    const ghost = rows.find((row) => row.host === 'ghost')!
    expect(ghost.state).toBe('dead')
    const live = rows.find((row) => row.host !== 'ghost')!
    expect(live).toMatchObject({ state: 'busy', pid: process.pid, concurrency: service.config.workerConcurrency, version: '0.1.0' })
    expect(live.current_jobs).toEqual([ids.running])
    expect([...live.kinds].sort()).toEqual(['echo', 'fail', 'gate'])
    // Counts reach the registry with the next heartbeat, each when its job has settled.
    const counted = await until('the worker counts to reach the registry', async () => {
      const row = (await sql<Record<string, any>>`SELECT finished_count, failed_count FROM housler.workers WHERE host <> 'ghost'`.execute(service.db.db)).rows[0]
      return row?.finished_count === 2 && row.failed_count === 1 ? row : undefined
    }, 10_000, 50)
    expect(counted).toEqual({ finished_count: 2, failed_count: 1 })
  })

  it('throughput counts finished and failed per minute with wait and run percentiles', async () => {
    const rows = await sql<Record<string, any>>`
      SELECT kind, sum(finished)::int AS finished, sum(failed)::int AS failed, max(wait_p50_seconds) AS wait, max(run_p95_seconds) AS run
      FROM housler.throughput WHERE minute > now() - interval '10 minutes' GROUP BY kind ORDER BY kind`.execute(service.db.db)
    expect(rows.rows.map(({ kind, finished, failed }) => ({ kind, finished, failed }))).toEqual([
      { kind: 'echo', finished: 2, failed: 0 },
      { kind: 'fail', finished: 0, failed: 1 },
    ])
    for (const row of rows.rows) {
      expect(row.wait).toBeGreaterThanOrEqual(0)
      expect(row.wait).toBeLessThan(30)
      expect(row.run).toBeGreaterThanOrEqual(0)
    }
  })

  it('a worker deregisters on a clean stop', async () => {
    const extra = service.queue.startWorker({ kinds: ['echo'] })
    await until('the extra worker to register', async () => {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.workers WHERE id = ${extra.id}`.execute(service.db.db)
      return rows[0].n === 1 ? true : undefined
    }, 10_000, 50)
    await extra.stop()
    const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.workers WHERE id = ${extra.id}`.execute(service.db.db)
    expect(after.rows[0].n).toBe(0)
  })

  it('every view and column is documented for psql \\d+', async () => {
    const rows = await sql<{ view: string; column: string | null; comment: string | null }>`
      SELECT c.relname AS view, NULL AS column, obj_description(c.oid, 'pg_class') AS comment
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'housler' AND c.relkind = 'v' AND c.relname IN ('queue_stats', 'failed_jobs', 'workers', 'throughput')
      UNION ALL
      SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
      WHERE n.nspname = 'housler' AND c.relname IN ('queue_stats', 'failed_jobs', 'workers', 'throughput')`.execute(service.db.db)
    expect(new Set(rows.rows.map((row) => row.view))).toEqual(new Set(['queue_stats', 'failed_jobs', 'workers', 'throughput']))
    expect(rows.rows.filter((row) => !row.comment)).toEqual([])
  })
})
