import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Runtime } from '../../src/runtime.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { openEffectRuntime, type EffectRuntime } from '../helpers/effect-runtime.ts'

// Jobs claimed by their own enqueue (src/queue/worker.ts offerClaim) in a process that is then SIGKILLed
// are recovered like any claimed job: their heartbeat lapses, pg-boss's monitor retries them, and
// another worker runs each to the end once.
// At most this many long jobs, under WORKER_CONCURRENCY: each runs in the first process, claimed or fetched.
const JOBS = 3
const ENV = {
  WORKER_CONCURRENCY: '4',
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  // Far longer than the test: only a claim on enqueue can start a job in the first process.
  WORKER_POLL_INTERVAL_MS: '60000',
  DB_POOL_SIZE: '4',
  LOG_LEVEL: 'error',
}

let harness: EffectRuntime
let runtime: Runtime
let client: pg.Client
const processes: TestProcess[] = []

beforeAll(async () => {
  // Supervision (pg-boss's monitor) runs here: it is what notices the lapsed heartbeats.
  harness = await openEffectRuntime({ env: ENV, serves: { api: true } })
  ;({ runtime, client } = harness)
})

afterAll(async () => {
  await killAll(processes)
  await harness?.close()
})

function enqueueIn(proc: TestProcess, payload: object): Promise<string> {
  return new Promise((resolve, reject) => {
    proc.child.once('message', (answer: { jobId?: string; error?: string }) => (answer.jobId ? resolve(answer.jobId) : reject(new Error(answer.error))))
    proc.child.send({ enqueue: { kind: 'effect', payload } })
  })
}

describe('a process killed while running jobs it claimed on enqueue', () => {
  it('leaves them to be retried and finished once by another worker', async () => {
    const first = await spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: runtime.url, ...ENV })
    processes.push(first)
    const claimedByEnqueue = async (id: string) =>
      (await client.query(`SELECT started_on = created_on AS claimed FROM pgboss.job WHERE id = $1`, [id])).rows[0]?.claimed === true
    // Quick jobs until one is claimed by its enqueue: the worker has then found the kind empty.
    const probes: string[] = []
    await until('a quick job to be claimed by its enqueue', async () => {
      probes.push(await enqueueIn(first, { ms: 0 }))
      return (await claimedByEnqueue(probes.at(-1)!)) ? true : undefined
    }, 10_000, 50)
    await until('the quick jobs to finish', async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) AND status = 'finished'`, [probes])
      return rows[0].n === probes.length ? true : undefined
    }, 10_000, 50)
    // Long jobs until one is claimed by its enqueue (one that meets the worker's own fetch in flight is fetched instead).
    const ids: string[] = []
    const claimed: string[] = []
    while (claimed.length === 0 && ids.length < JOBS) {
      const id = await enqueueIn(first, { ms: 8_000 })
      ids.push(id)
      if (await claimedByEnqueue(id)) claimed.push(id)
    }
    expect(claimed).toHaveLength(1)
    await until('the handlers to start in the first process', async () => {
      const { rows } = await client.query('SELECT count(DISTINCT job_id)::int AS n FROM test_starts WHERE pid = $1 AND job_id = ANY($2)', [first.pid, ids])
      return rows[0].n === ids.length ? true : undefined
    }, 10_000, 50)

    first.child.kill('SIGKILL')
    await first.exited
    const second = await spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: runtime.url, ...ENV, WORKER_POLL_INTERVAL_MS: '250' })
    processes.push(second)

    // Heartbeat lapse (10 s) + a monitor pass + the 8 s re-run, with room for a loaded machine.
    await until('every job to finish', async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) AND status = 'finished'`, [ids])
      return rows[0].n === ids.length ? true : undefined
    }, 90_000, 250)
    const effects = await client.query('SELECT job_id, pid, attempt FROM test_effects WHERE job_id = ANY($1)', [ids])
    expect(effects.rows).toHaveLength(ids.length)
    for (const effect of effects.rows) expect(effect).toMatchObject({ pid: second.pid, attempt: 2 })
    const starts = await client.query('SELECT job_id, array_agg(pid ORDER BY attempt) AS pids FROM test_starts WHERE job_id = ANY($1) GROUP BY job_id', [ids])
    expect(starts.rows).toHaveLength(ids.length)
    for (const row of starts.rows) expect(row.pids).toEqual([first.pid, second.pid])
  }, 150_000)
})
