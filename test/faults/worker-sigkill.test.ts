import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Queue } from '../../src/queue/index.ts'
import type { Runtime } from '../../src/runtime.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { openEffectRuntime, type EffectRuntime } from '../helpers/effect-runtime.ts'

// 2,000 jobs, 3 worker processes, a random one SIGKILLed and replaced while the fleet drains.
// A killed worker's jobs come back only when pg-boss sees their heartbeat lapse (HEARTBEAT_SECONDS,
// at least 10 s), and each crash spends one of the effect kind's 5 attempts.
const N = 2000
const WORKERS = 3
const KILLS = 5
/** After the last kill: heartbeat lapse (10 s) + monitor pass + the rest of the drain, with room for a loaded machine. */
const DRAIN_DEADLINE_MS = 75_000

const WORKER_ENV = {
  WORKER_CONCURRENCY: '4',
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  WORKER_POLL_INTERVAL_MS: '250',
  SHUTDOWN_GRACE_SECONDS: '5',
  DB_POOL_SIZE: '4',
  LOG_LEVEL: 'error',
}

let harness: EffectRuntime
let runtime: Runtime
let queue: Queue
let client: pg.Client
const processes: TestProcess[] = []

const startWorker = async () => {
  const worker = await spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: runtime.url, ...WORKER_ENV })
  processes.push(worker)
  return worker
}
const count = async (text: string, values: unknown[] = []): Promise<number> => (await client.query(text, values)).rows[0].n

beforeAll(async () => {
  harness = await openEffectRuntime({ env: WORKER_ENV, supervise: false })
  ;({ runtime, client } = harness)
  queue = runtime.queue
})

afterAll(async () => {
  await killAll(processes)
  await harness?.close()
})

describe('worker processes SIGKILLed at random while draining', () => {
  it(`finish each of ${N} jobs exactly once: none lost, stuck or failed for the crashes`, async () => {
    const live = await Promise.all(Array.from({ length: WORKERS }, startWorker))
    const started = Date.now()
    const ids = (await queue.enqueueMany(Array.from({ length: N }, (_, i) => ({ kind: 'effect', payload: { ms: 10 + (i % 5) * 10 } })))).map((outcome) => outcome.jobId)

    const killed: Array<{ pid: number; inFlight: string[] }> = []
    for (let k = 0; k < KILLS; k++) {
      // Kills are spread over the drain by progress, not by the clock, so a slow machine gets them all too.
      const threshold = Math.round(((k + 1) * N) / (KILLS + 2))
      await until(`${threshold} effects before kill ${k + 1}`, async () =>
        (await count('SELECT count(*)::int AS n FROM test_effects')) >= threshold ? true : undefined,
      )
      // The victim is drawn from the workers holding a running job right now: a worker just restarted,
      // or one idle near the end of the drain, may hold none for a while.
      const index = await until('a worker to hold a running job', async () => {
        const { rows } = await client.query(
          `SELECT DISTINCT s.pid FROM test_starts s JOIN pgboss.job j ON j.id = s.job_id WHERE s.pid = ANY($1) AND j.state = 'active'`,
          [live.map((worker) => worker.pid)],
        )
        if (rows.length === 0) return undefined
        const pid = rows[Math.floor(Math.random() * rows.length)].pid as number
        return live.findIndex((worker) => worker.pid === pid)
      }, 30_000, 10)
      const victim = live[index]
      // Jobs this worker claimed and has not completed (its effect may already be recorded).
      const holding = async () =>
        (
          await client.query(
            `SELECT DISTINCT s.job_id FROM test_starts s JOIN pgboss.job j ON j.id = s.job_id WHERE s.pid = $1 AND j.state = 'active'`,
            [victim.pid],
          )
        ).rows.map((row) => row.job_id as string)
      victim.child.kill('SIGKILL')
      await victim.exited
      killed.push({ pid: victim.pid, inFlight: await holding() })
      live[index] = await startWorker()
    }

    // Every job finished, or the deadline passed: the counts below say which.
    let finished = 0
    await until('every job to finish', async () => {
      finished = await count(`SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) AND status = 'finished'`, [ids])
      return finished === N ? true : undefined
    }, DRAIN_DEADLINE_MS, 250).catch(() => undefined)
    const drainedMs = Date.now() - started

    const statuses = await client.query(`SELECT status, count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) GROUP BY status ORDER BY status`, [ids])
    const effects = await client.query('SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS d FROM test_effects')
    const killedPids = killed.map((kill) => kill.pid)
    // A job ran more than once only if a killed worker had claimed it: anything else is a double claim.
    const rerun = await client.query(
      `SELECT job_id, bool_or(pid = ANY($1)) AS killed FROM test_starts GROUP BY job_id HAVING count(*) > 1`,
      [killedPids],
    )
    const unexplained = rerun.rows.filter((row) => !row.killed).length
    // A job can be caught by two kills (re-run on a worker killed later): counted once.
    const interrupted = new Set(killed.flatMap((kill) => kill.inFlight))
    const inFlight = interrupted.size
    const rerunIds = new Set(rerun.rows.map((row) => row.job_id as string))
    const lost = N - finished
    const duplicated = effects.rows[0].n - effects.rows[0].d + unexplained
    const maxAttempt = await count('SELECT coalesce(max(attempt), 0)::int AS n FROM test_starts')
    console.log(
      `faults/worker-sigkill: ${N} jobs, ${WORKERS} workers, ${killed.length} SIGKILLs injected (${inFlight} jobs in flight), ` +
        `${killed.length} restarts, ${rerun.rows.length} re-runs (max attempt ${maxAttempt}), ${lost} lost, ${duplicated} duplicated, ` +
        `statuses ${JSON.stringify(statuses.rows)}, ${(drainedMs / 1000).toFixed(1)} s`,
    )

    expect(killed.length).toBe(KILLS)
    expect(inFlight).toBeGreaterThan(0)
    expect(lost).toBe(0)
    expect(statuses.rows).toEqual([{ status: 'finished', n: N }])
    expect(effects.rows[0]).toEqual({ n: N, d: N })
    expect(unexplained).toBe(0)
    // Every job a crash interrupted was run again (and, above, only jobs a killed worker held were).
    expect([...interrupted].filter((id) => !rerunIds.has(id))).toEqual([])
  }, 180_000)
})
