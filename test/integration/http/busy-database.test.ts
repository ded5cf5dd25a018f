import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleepTask } from '../../helpers/fleet-tasks.ts'
import { until } from '../../helpers/processes.ts'
import { SERVICE_DATABASE, SERVICE_ROLE, startPrivateCluster, type PrivateCluster } from '../../helpers/private-cluster.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'

// The service's role gets a CONNECTION LIMIT of exactly what it holds (its LISTEN session), after
// its pooled sessions are ended: every new session it asks for is refused with 53300, as on a full server.
let cluster: PrivateCluster
let admin: pg.Client
let service: TestService

beforeAll(async () => {
  cluster = await startPrivateCluster()
  admin = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
  await admin.connect()
  service = await startTestService({ tasks: [sleepTask], databaseUrl: cluster.serviceUrl(), worker: false })
})

afterAll(async () => {
  await service?.close()
  await admin?.end()
  await cluster?.stop()
})

async function refuseNewSessions() {
  await admin.query(`ALTER ROLE ${SERVICE_ROLE} CONNECTION LIMIT 1`)
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND application_name <> 'housler-listener'`, [SERVICE_ROLE])
  await until('the pool to notice its sessions ended', async () => (service.db.pool.totalCount === 0 ? true : undefined), 10_000, 20)
}

const enqueue = () =>
  fetch(`${service.baseUrl}/api/tasks/sleep`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ms: 1 }) })

describe('a database that refuses new sessions (53300)', () => {
  it('answers enqueues 503 with Retry-After, never 500 or an inline run, and recovers on its own', async () => {
    const before = await enqueue()
    expect(before.status).toBe(202)
    const { job_id: jobId } = await before.json()

    await refuseNewSessions()
    const refused = await enqueue()
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('2')
    const body = await refused.json()
    expect(body.error).toMatch(/connection limit/)
    expect(body.code).toBe('DatabaseBusy')
    expect(body.fallback).toBeUndefined()

    const status = await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)
    expect(status.status).toBe(503)
    expect(status.headers.get('retry-after')).toBe('2')
    expect((await status.json()).code).toBe('DatabaseBusy')

    // Scrapes still answer, and count the refusals.
    const metrics = await fetch(`${service.baseUrl}/metrics`)
    expect(metrics.status).toBe(200)
    const refusals = Number(/housler_db_connection_refusals_total\{database="primary"\} (\d+)/.exec(await metrics.text())?.[1])
    expect(refusals).toBeGreaterThan(0)

    await admin.query(`ALTER ROLE ${SERVICE_ROLE} CONNECTION LIMIT -1`)
    const after = await enqueue()
    expect(after.status).toBe(202)
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM housler._tasks')
    expect(rows[0].n).toBe(2)
  })
})

/**
 * Ends the service's session while its enqueue waits on a lock the test holds (SHARE on housler._tasks
 * blocks the INSERT, not reads): the enqueue fails with 57P01 mid-statement, as when an administrator,
 * a pooler or the fleet test's exhaustion scenario ends it. `end` ends the waiting session (and maybe more); then the lock goes.
 */
async function enqueueWithSessionEnded(end: (pid: number) => Promise<unknown>): Promise<Response> {
  const locker = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
  await locker.connect()
  try {
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE housler._tasks IN SHARE MODE')
    const response = enqueue()
    const pid = await until('the enqueue to wait on the lock', async () => {
      const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'`, [SERVICE_ROLE])
      return rows[0]?.pid
    }, 10_000, 20)
    await end(pid)
    await locker.query('ROLLBACK')
    return await response
  } finally {
    await locker.end()
  }
}

const storedJobs = async () => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM housler._tasks')).rows[0].n

describe('a session ended in the middle of an enqueue (57P01)', () => {
  it('on a full server answers 503 DatabaseBusy, not an inline run, and stores nothing', async () => {
    const before = await storedJobs()
    const response = await enqueueWithSessionEnded(refuseNewSessions)
    const body = await response.json()
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('2')
    expect(body.code).toBe('DatabaseBusy')
    expect(body.fallback).toBeUndefined()
    expect(await storedJobs()).toBe(before)
    await admin.query(`ALTER ROLE ${SERVICE_ROLE} CONNECTION LIMIT -1`)
  })

  it('on a server with room stores the job once (written again on a new session), not an inline run', async () => {
    const before = await storedJobs()
    const response = await enqueueWithSessionEnded((pid) => admin.query('SELECT pg_terminate_backend($1)', [pid]))
    const body = await response.json()
    expect(response.status).toBe(202)
    expect(body.fallback).toBeUndefined()
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM housler._tasks WHERE job_id = $1', [body.job_id])
    expect(rows[0].n).toBe(1)
    expect(await storedJobs()).toBe(before + 1)
  })
})
