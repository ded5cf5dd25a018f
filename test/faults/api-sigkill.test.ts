import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../helpers/postgres.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { EFFECT_TABLES_SQL } from '../helpers/test-worker-tasks.ts'

// The API process is SIGKILLed while clients are mid-burst: whatever it answered 202 to must exist
// and finish, and each task row must have its pg-boss job (they are written in one transaction).
const CLIENTS = 16
const KILL_AFTER_ACCEPTED = 300
const AFTER_RESTART = 50

const ENV = {
  WORKER_CONCURRENCY: '8',
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  WORKER_POLL_INTERVAL_MS: '500',
  DB_POOL_SIZE: '6',
  RATE_LIMIT_PER_MINUTE: '0',
  LOG_LEVEL: 'error',
}

let database: Awaited<ReturnType<typeof createTestDatabase>>
let client: pg.Client
const processes: TestProcess[] = []

const startApi = async () => {
  const api = await spawnTestProcess('test/helpers/test-api.ts', { DATABASE_URL: database.url, PORT: '0', ...ENV })
  processes.push(api)
  return { api, baseUrl: `http://127.0.0.1:${(api.ready as { port: number }).port}` }
}

async function enqueue(baseUrl: string, i: number): Promise<{ status: number | 'network'; jobId?: string }> {
  try {
    const response = await fetch(`${baseUrl}/api/tasks/effect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ms: i % 3 }),
      signal: AbortSignal.timeout(10_000),
    })
    const body = await response.json().catch(() => ({}))
    return { status: response.status, jobId: response.status === 202 ? body.job_id : undefined }
  } catch {
    return { status: 'network' }
  }
}

beforeAll(async () => {
  database = await createTestDatabase()
  client = new pg.Client({ connectionString: database.url })
  await client.connect()
  await client.query(EFFECT_TABLES_SQL)
  processes.push(
    ...(await Promise.all([0, 1].map(() => spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: database.url, ...ENV })))),
  )
}, 60_000)

afterAll(async () => {
  await killAll(processes)
  await client?.end()
  await database?.drop()
})

describe('the API process SIGKILLed during a burst of enqueues', () => {
  it('every 202 becomes a job that finishes; no task row without its job, no job without its row', async () => {
    const { api, baseUrl } = await startApi()
    const accepted: string[] = []
    const refused: Array<number | 'network'> = []
    let killed = false
    let inFlightAtKill = 0
    let inFlight = 0
    let sent = 0
    const burst = async () => {
      // Each client sends until the API is gone; bounded either way.
      while (!killed && sent < 20_000) {
        const i = sent++
        inFlight++
        const answer = await enqueue(baseUrl, i)
        inFlight--
        if (answer.jobId) accepted.push(answer.jobId)
        else refused.push(answer.status)
      }
    }
    const clients = Array.from({ length: CLIENTS }, burst)
    await until(`${KILL_AFTER_ACCEPTED} accepted enqueues`, async () => (accepted.length >= KILL_AFTER_ACCEPTED ? true : undefined), 30_000, 5)
    api.child.kill('SIGKILL')
    killed = true
    inFlightAtKill = inFlight
    await api.exited
    await Promise.all(clients)
    const acceptedBeforeKill = accepted.length

    // A new API process on the same database carries on.
    const restarted = await startApi()
    const after = await Promise.all(Array.from({ length: AFTER_RESTART }, (_, i) => enqueue(restarted.baseUrl, i)))
    expect(after.map((answer) => answer.status)).toEqual(Array(AFTER_RESTART).fill(202))
    accepted.push(...after.map((answer) => answer.jobId!))

    // Rows the dead API committed without answering (the transaction won the race with the kill) are
    // real jobs too: they must finish like the rest.
    await until('every task row to be finished', async () => {
      const { rows } = await client.query(`SELECT count(*) FILTER (WHERE status <> 'finished')::int AS n FROM housler.jobs`)
      return rows[0].n === 0 ? true : undefined
    }, 60_000, 250).catch(() => undefined)

    const { rows: [counts] } = await client.query(`
      SELECT
        (SELECT count(*) FROM housler._tasks)::int AS tasks,
        (SELECT count(*) FROM pgboss.job WHERE name = 'effect')::int AS jobs,
        (SELECT count(*) FROM housler._tasks t WHERE NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.id = t.job_id))::int AS rows_without_job,
        (SELECT count(*) FROM pgboss.job j WHERE j.name = 'effect' AND NOT EXISTS (SELECT 1 FROM housler._tasks t WHERE t.job_id = j.id))::int AS jobs_without_row,
        (SELECT count(*) FROM housler.jobs WHERE status = 'finished')::int AS finished,
        (SELECT count(*) FROM test_effects)::int AS effects`)
    const finishedAccepted = (await client.query(`SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) AND status = 'finished'`, [accepted])).rows[0].n
    const lost = accepted.length - finishedAccepted
    const unanswered = counts.tasks - accepted.length
    console.log(
      `faults/api-sigkill: ${sent} enqueues sent by ${CLIENTS} clients, 1 SIGKILL injected (${inFlightAtKill} requests in flight), 1 restart, ` +
        `${acceptedBeforeKill} + ${AFTER_RESTART} accepted (202), ${refused.length} refused (${[...new Set(refused)].join(', ')}), ` +
        `${unanswered} committed but unanswered, ${counts.tasks} task rows / ${counts.jobs} pg-boss jobs, ` +
        `${counts.rows_without_job} rows without a job, ${counts.jobs_without_row} jobs without a row, ${lost} lost, ${counts.finished} finished`,
    )

    expect(inFlightAtKill).toBeGreaterThan(0)
    expect(refused.every((status) => status === 'network')).toBe(true)
    expect(counts.rows_without_job).toBe(0)
    expect(counts.jobs_without_row).toBe(0)
    expect(lost).toBe(0)
    // Only a request the kill cut off can have committed without its answer.
    expect(unanswered).toBeLessThanOrEqual(inFlightAtKill)
    expect(counts.finished).toBe(counts.tasks)
    expect(counts.effects).toBe(counts.tasks)
  }, 120_000)
})
