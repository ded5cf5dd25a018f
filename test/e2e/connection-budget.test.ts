import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Runtime } from '../../src/runtime.ts'
import { sleepTask } from '../helpers/fleet-tasks.ts'
import { openTestRuntime } from '../helpers/service.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { SERVICE_DATABASE, SERVICE_ROLE, startPrivateCluster, type PrivateCluster } from '../helpers/private-cluster.ts'

// Counted in pg_stat_activity of a cluster of the test's own, where the service role is the only
// one that is not the test's: every session of that role belongs to the process under test.
let cluster: PrivateCluster
let admin: pg.Client
let enqueuer: Runtime | undefined
const processes: TestProcess[] = []
const CONCURRENCY = 8

beforeAll(async () => {
  cluster = await startPrivateCluster()
  admin = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
  await admin.connect()
})

afterAll(async () => {
  await killAll(processes)
  await enqueuer?.close()
  await admin?.end()
  await cluster?.stop()
})

async function serviceSessions(): Promise<number> {
  const { rows } = await admin.query<{ application_name: string; query: string }>(
    `SELECT application_name, left(query, 60) AS query FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`,
    [SERVICE_ROLE],
  )
  if (rows.length > peakSeen) {
    peakSeen = rows.length
    peakSessionsSeen = rows.map((row) => `${row.application_name}: ${row.query}`)
  }
  return rows.length
}
// What the busiest sample showed, printed with the counts (a budget overrun names its sessions).
let peakSeen = 0
let peakSessionsSeen: string[] = []

/** The most sessions seen while `during` runs, sampled every 20 ms. */
async function peakSessions(during: Promise<unknown>): Promise<number> {
  let peak = 0
  let done = false
  void during.finally(() => (done = true))
  while (!done) {
    peak = Math.max(peak, await serviceSessions())
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await during
  return peak
}

function spawnFleetProcess(role: 'worker' | 'api', env: Record<string, string> = {}) {
  return spawnTestProcess('test/helpers/fleet-process.ts', {
    DATABASE_URL: cluster.serviceUrl(),
    FLEET_ROLE: role,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WORKER_KINDS: 'sleep',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...env,
  }).then((p) => (processes.push(p), p))
}

describe('connections per process (pg_stat_activity)', () => {
  it('an idle worker holds at most 2: its LISTEN session and one pooled', async () => {
    const worker = await spawnFleetProcess('worker')
    // From the moment it is ready. Eight seconds span every periodic task of an idle worker: polls, registry and pg-boss heartbeats, monitor.
    const peak = await peakSessions(new Promise((resolve) => setTimeout(resolve, 8000)))
    console.log(
      `idle worker (WORKER_CONCURRENCY=${CONCURRENCY}): peak ${peak} server connections\n  ${peakSessionsSeen.join('\n  ')}`,
    )
    expect(peak).toBeGreaterThanOrEqual(1)
    expect(peak).toBeLessThanOrEqual(2)
    expect(worker.child.exitCode).toBeNull()
  })

  it(`a worker at full load (WORKER_CONCURRENCY=${CONCURRENCY}) stays within 2 + ceil(c/4)`, async () => {
    // The test's enqueuer connects as the superuser, so its sessions are not counted.
    const url = cluster.adminUrl(SERVICE_DATABASE)
    enqueuer = await openTestRuntime({ tasks: [sleepTask], databaseUrl: url, supervise: false, serves: {} })
    const ids = (await enqueuer.queue.enqueueMany(Array.from({ length: 600 }, () => ({ kind: 'sleep', payload: { ms: 20 } })))).map((outcome) => outcome.jobId)
    const drained = until('600 jobs finished', async () => {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pgboss.job WHERE id = ANY($1::uuid[]) AND state = 'completed'`,
        [ids],
      )
      return rows[0].n === ids.length ? true : undefined
    }, 120_000, 50)
    const peak = await peakSessions(drained)
    const budget = 2 + Math.ceil(CONCURRENCY / 4)
    console.log(`worker at full load (WORKER_CONCURRENCY=${CONCURRENCY}): peak ${peak} server connections, budget ${budget}`)
    expect(peak).toBeGreaterThanOrEqual(2)
    expect(peak).toBeLessThanOrEqual(budget)
  }, 180_000)
})
