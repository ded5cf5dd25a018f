import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Queue } from '../../src/queue/index.ts'
import type { Runtime } from '../../src/runtime.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { openEffectRuntime, type EffectRuntime } from '../helpers/effect-runtime.ts'
import { TEST_PROCESS_TASKS } from '../helpers/test-worker-tasks.ts'

// Process-level variants of two guarantees the in-process tests prove too: a worker SIGTERMed during
// long jobs (test/e2e/workers.test.ts drains short ones), and a hung handler past its timeout
// (test/integration/queue/semantics.test.ts, in-process).
const GRACE_SECONDS = 3
const ENV = {
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  WORKER_POLL_INTERVAL_MS: '250',
  SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
  DB_POOL_SIZE: '4',
  LOG_LEVEL: 'fatal',
}

let harness: EffectRuntime
let runtime: Runtime
let queue: Queue
let client: pg.Client
const processes: TestProcess[] = []

const startWorker = async (env: Record<string, string>) => {
  const worker = await spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: runtime.url, ...ENV, ...env })
  processes.push(worker)
  return worker
}
const startsOf = async (jobId: string) =>
  (await client.query('SELECT pid, attempt FROM test_starts WHERE job_id = $1 ORDER BY attempt', [jobId])).rows as Array<{ pid: number; attempt: number }>
const statusOf = (jobId: string) => queue.getStatus(jobId)
const reach = (jobId: string, statuses: string[], timeoutMs = 30_000) =>
  until(`job ${jobId} to be ${statuses.join('/')}`, async () => {
    const body = await statusOf(jobId)
    return statuses.includes(body.status) ? body : undefined
  }, timeoutMs)

beforeAll(async () => {
  harness = await openEffectRuntime({ tasks: TEST_PROCESS_TASKS, env: ENV, supervise: false })
  ;({ runtime, client } = harness)
  queue = runtime.queue
})

// Each test's workers are gone before the next starts, whatever the outcome.
afterEach(() => killAll(processes))

afterAll(async () => {
  await killAll(processes)
  await harness?.close()
})

describe('worker processes', () => {
  it('fail a handler that hangs past its timeout and give its only slot to the next job', async () => {
    const worker = await startWorker({ WORKER_CONCURRENCY: '1' })
    const hung = (await queue.enqueue({ kind: 'hang', payload: {} })).jobId
    await until('the hung job to hold the slot', async () => ((await startsOf(hung)).length > 0 ? true : undefined))
    const next = (await queue.enqueue({ kind: 'effect', payload: { ms: 10 } })).jobId
    const failed = await reach(hung, ['failed'])
    const finished = await reach(next, ['finished'])
    console.log(`faults/timeout: hung handler failed after ${Date.parse(failed.ended_at!) - Date.parse(failed.started_at!)} ms ("${failed.error}"); the next job ran on the freed slot`)
    expect(failed.error).toMatch(/timeout of 1 s/)
    // One slot: the next job could only start once the hung one had run out its 1 s.
    expect(Date.parse(finished.started_at!)).toBeGreaterThanOrEqual(Date.parse(failed.started_at!) + 1000)
    expect(await startsOf(next)).toEqual([{ pid: worker.pid, attempt: 1 }])
    worker.child.kill('SIGTERM')
    expect(await worker.exited).toBe(0)
  })

  it('SIGTERMed during long jobs: finish those that fit the grace period, exit 0, hand the rest over once', async () => {
    const leaving = await startWorker({ WORKER_CONCURRENCY: '4' })
    // Two finish within the grace period; two cannot, and are aborted at its end and retried elsewhere.
    const short = (await queue.enqueueMany([1500, 1500].map((ms) => ({ kind: 'effect', payload: { ms } })))).map((outcome) => outcome.jobId)
    const long = (await queue.enqueueMany([6000, 6000].map((ms) => ({ kind: 'effect', payload: { ms } })))).map((outcome) => outcome.jobId)
    await until('the leaving worker to run all four', async () => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM test_starts WHERE pid = $1', [leaving.pid])
      return rows[0].n === 4 ? true : undefined
    })
    // The signal goes at once (starting the other worker first would eat into the long jobs' margin).
    const signalledAt = Date.now()
    leaving.child.kill('SIGTERM')
    const exit = leaving.exited.then((code) => ({ code, exitMs: Date.now() - signalledAt }))
    const staying = await startWorker({ WORKER_CONCURRENCY: '4' })
    const { code, exitMs } = await exit

    for (const id of [...short, ...long]) await reach(id, ['finished', 'failed'])
    const shortStarts = await Promise.all(short.map(startsOf))
    const longStarts = await Promise.all(long.map(startsOf))
    const effects = (await client.query('SELECT job_id, pid FROM test_effects WHERE job_id = ANY($1)', [[...short, ...long]])).rows
    const effectPid = new Map(effects.map((row) => [row.job_id, row.pid]))
    const statuses = await Promise.all([...short, ...long].map(async (id) => (await statusOf(id)).status))
    console.log(
      `faults/worker-sigterm: 4 running jobs (2 × 1.5 s, 2 × 6 s), 1 SIGTERM, exit ${code} after ${exitMs} ms (grace ${GRACE_SECONDS} s), ` +
        `2 finished in the grace period, 2 handed over (starts per job: ${[...shortStarts, ...longStarts].map((s) => s.length).join(', ')}), ` +
        `statuses ${statuses.join(', ')}`,
    )

    expect(code).toBe(0)
    expect(exitMs).toBeLessThan((GRACE_SECONDS + 3) * 1000)
    expect(statuses).toEqual(['finished', 'finished', 'finished', 'finished'])
    // The jobs that fit finished on the leaving worker, once.
    for (const [i, id] of short.entries()) {
      expect(shortStarts[i]).toEqual([{ pid: leaving.pid, attempt: 1 }])
      expect(effectPid.get(id)).toBe(leaving.pid)
    }
    // The others were requeued exactly once: one retry on the staying worker, never a third start.
    for (const [i, id] of long.entries()) {
      expect(longStarts[i]).toEqual([
        { pid: leaving.pid, attempt: 1 },
        { pid: staying.pid, attempt: 2 },
      ])
      expect(effectPid.get(id)).toBe(staying.pid)
    }
    staying.child.kill('SIGTERM')
    expect(await staying.exited).toBe(0)
  }, 60_000)

  it('SIGTERMed while a claim is in flight: the jobs it brings are run, not abandoned', async () => {
    // The claim is held in flight by a lock the test owns on pg-boss's job table: the signal lands
    // while the worker waits for jobs it will own the moment the lock goes.
    // A long grace period: on a loaded machine the lock may be held for seconds, and a claim that
    // returns after the grace is over is left to the heartbeat on purpose.
    const worker = await startWorker({ WORKER_CONCURRENCY: '1', WORKER_POLL_INTERVAL_MS: '60000', SHUTDOWN_GRACE_SECONDS: '20', LOG_LEVEL: 'info' })
    const [job] = (await queue.enqueueMany([{ kind: 'effect', payload: { ms: 300 }, runAt: new Date(Date.now() + 1000) }])).map((outcome) => outcome.jobId)
    await until('the job to be due', async () => {
      const { rows } = await client.query('SELECT start_after <= now() AS due FROM pgboss.job WHERE id = $1', [job])
      return rows[0].due ? true : undefined
    })
    const locker = new pg.Client({ connectionString: runtime.url })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE')
      const { rows: [{ pid: lockPid }] } = await locker.query('SELECT pg_backend_pid() AS pid')
      await client.query(`SELECT pg_notify('housler_jobs', 'effect')`)
      await until('the worker\'s claim to wait on the lock', async () => {
        const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [lockPid])
        return rows[0].n > 0 ? true : undefined
      }, 10_000, 20)
      worker.child.kill('SIGTERM')
      // The lock goes only once the draining worker says it waits for that claim; a drain that forgot it never does.
      await until('the draining worker to wait for its claim', async () =>
        worker.output().includes('stopping: waiting for the claim in flight') ? true : undefined, 10_000, 20)
      await locker.query('ROLLBACK')
    } finally {
      await locker.end()
    }
    const code = await worker.exited
    const state = (await client.query('SELECT state FROM pgboss.job WHERE id = $1', [job])).rows[0].state
    const starts = await startsOf(job)
    console.log(`faults/worker-sigterm-claiming: 1 SIGTERM during a claim, exit ${code}, the claimed job is ${state} (starts: ${starts.length})`)
    expect(code).toBe(0)
    expect(starts).toEqual([{ pid: worker.pid, attempt: 1 }])
    expect(state).toBe('completed')
  }, 30_000)
})
