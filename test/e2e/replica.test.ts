import { readFile } from 'node:fs/promises'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleepTask } from '../helpers/fleet-tasks.ts'
import { until } from '../helpers/processes.ts'
import { SERVICE_DATABASE, SERVICE_ROLE, startPrivateCluster, type PrivateCluster } from '../helpers/private-cluster.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

// A real streaming replica (pg_basebackup -R) of a cluster of the test's own. Pausing its WAL replay
// holds it behind the primary for as long as a test needs, with no timing involved.
let primary: PrivateCluster
let replica: PrivateCluster
let replicaAdmin: pg.Client
let service: TestService

beforeAll(async () => {
  // Every statement is logged with its role: what the service read on the replica is in the replica's log.
  primary = await startPrivateCluster({ log_statement: 'all', log_line_prefix: `'%u|'` })
  // The service's schema exists before the copy is taken, so the replica has the tables to read.
  service = await startTestService({ tasks: [sleepTask], databaseUrl: primary.serviceUrl(), worker: false })
  await service.close()
  replica = await primary.startReplica()
  replicaAdmin = new pg.Client({ connectionString: replica.adminUrl(SERVICE_DATABASE) })
  await replicaAdmin.connect()
  service = await startTestService({
    tasks: [sleepTask],
    databaseUrl: primary.serviceUrl(),
    env: { DATABASE_READ_URL: replica.serviceUrl() },
    worker: false,
  })
}, 180_000)

afterAll(async () => {
  await service?.close()
  await replicaAdmin?.end()
  await replica?.stop()
  await primary?.stop()
})

async function replicaHas(jobId: string): Promise<boolean> {
  const { rows } = await replicaAdmin.query('SELECT 1 FROM housler._tasks WHERE job_id = $1', [jobId])
  return rows.length > 0
}

async function replicaQueries(): Promise<string[]> {
  const { rows } = await replicaAdmin.query<{ query: string }>(
    `SELECT query FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`,
    [SERVICE_ROLE],
  )
  return rows.map((row) => row.query)
}

/** Statements the service's role ran on the replica, from its server log. */
async function replicaStatements(): Promise<string> {
  const log = await readFile(`${replica.dir}.log`, 'utf8')
  // An entry starts with its role prefix; a multi-line statement continues on lines without one.
  return log
    .split(/\n(?=[a-z_]*\|)/)
    .filter((entry) => entry.startsWith(`${SERVICE_ROLE}|`))
    .join('\n')
}

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text()
  const match = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)
  return match ? Number(match[1]) : undefined
}

describe('a read replica (DATABASE_READ_URL)', () => {
  it('answers 200 for a job the replica does not have yet, from the primary', async () => {
    await replicaAdmin.query('SELECT pg_wal_replay_pause()')
    try {
      const response = await fetch(`${service.baseUrl}/api/tasks/sleep`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ms: 1 }),
      })
      expect(response.status).toBe(202)
      const { job_id: jobId } = await response.json()
      const status = await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)
      expect(status.status).toBe(200)
      expect((await status.json()).status).toBe('queued')
      // The replica really is behind: the answer can only have come from the primary.
      expect(await replicaHas(jobId)).toBe(false)
      expect(await replicaQueries()).toContainEqual(expect.stringContaining('FROM housler.jobs j'))

      // Lag is visible while replay is held.
      const lag = await until('a lag above zero in /metrics', async () => {
        const value = await metric('housler_replica_lag_seconds')
        return value !== undefined && value > 0 ? value : undefined
      }, 20_000, 250)
      expect(lag).toBeGreaterThan(0)
    } finally {
      await replicaAdmin.query('SELECT pg_wal_replay_resume()')
    }
    await until('the lag to return to zero', async () => ((await metric('housler_replica_lag_seconds')) === 0 ? true : undefined), 30_000, 250)
  })

  it('serves queue-stats and the dashboard from the replica', async () => {
    const before = (await replicaStatements()).length
    const stats = await fetch(`${service.baseUrl}/api/tasks/queue-stats`)
    expect(stats.status).toBe(200)
    // The replica's sessions show the service's reads as they run.
    expect(await replicaQueries()).toContainEqual(expect.stringContaining('FROM pgboss.job j WHERE j.name = ANY'))
    const dashboard = await fetch(`${service.baseUrl}/dashboard`)
    expect(dashboard.status).toBe(200)
    const statements = (await replicaStatements()).slice(before)
    for (const read of ['FROM pgboss.job j WHERE j.name = ANY', 'FROM housler.queue_stats', 'FROM housler.workers ORDER BY', 'housler.throughput']) {
      expect(statements).toContain(read)
    }
  })
})
