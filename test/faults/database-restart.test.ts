import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeEmbeddedData, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/index.ts'
import { createSilentLogger } from '../../src/log.ts'
import { freePort, killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'
import { EFFECT_TABLES_SQL } from '../helpers/test-worker-tasks.ts'

// This file owns a Postgres of its own (like test/e2e/fallback.test.ts), so it can stop and start it.
// The API and two workers are real processes; SYNC_FALLBACK=false, so the API must answer 503.
const dir = `.data/test-faults-restart-${process.pid}`
const PRELOAD = 120
/** No request may take longer than this, outage or not. */
const ANSWER_WITHIN_MS = 6000
const OUTAGE_MS = 4000
const LOAD_PAUSE_MS = 40
const MAX_LOAD_REQUESTS = 2000

const ENV = {
  WORKER_CONCURRENCY: '4',
  HEARTBEAT_SECONDS: '10',
  MONITOR_INTERVAL_SECONDS: '1',
  WORKER_POLL_INTERVAL_MS: '500',
  SHUTDOWN_GRACE_SECONDS: '5',
  DB_POOL_SIZE: '4',
  SYNC_FALLBACK: 'false',
  RATE_LIMIT_PER_MINUTE: '0',
  LOG_LEVEL: 'fatal',
}

let port: number
let database: EmbeddedServer
let pool: pg.Pool
let api: TestProcess
let baseUrl: string
const workers: TestProcess[] = []

type Answer = { what: 'enqueue' | 'status'; at: number; ms: number; status: number | 'network'; jobId?: string }

beforeAll(async () => {
  port = await freePort()
  database = await startEmbeddedPostgres({ dir, port, log: createSilentLogger() })
  pool = new pg.Pool({ connectionString: database.url, max: 2 })
  pool.on('error', () => {})
  await pool.query(EFFECT_TABLES_SQL)
  // The API migrates the fresh database (pg-boss, then ours) before the workers join it.
  api = await spawnTestProcess('test/helpers/test-api.ts', { DATABASE_URL: database.url, PORT: '0', ...ENV })
  baseUrl = `http://127.0.0.1:${(api.ready as { port: number }).port}`
  workers.push(
    ...(await Promise.all([0, 1].map(() => spawnTestProcess('test/helpers/test-worker.ts', { DATABASE_URL: database.url, ...ENV })))),
  )
}, 90_000)

afterAll(async () => {
  await killAll([api, ...workers].filter(Boolean))
  await pool?.end().catch(() => {})
  await database?.stop().catch(() => {})
  await removeEmbeddedData(database?.dataDir ?? dir)
})

async function call(what: Answer['what'], path: string, init: RequestInit = {}): Promise<Answer> {
  const at = Date.now()
  try {
    // The client's own bound is generous: a slow answer is measured and failed below, not cut short.
    const response = await fetch(`${baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(ANSWER_WITHIN_MS * 3) })
    const body = await response.json().catch(() => ({}))
    return { what, at, ms: Date.now() - at, status: response.status, jobId: response.status === 202 ? body.job_id : undefined }
  } catch {
    return { what, at, ms: Date.now() - at, status: 'network' }
  }
}

const enqueue = (ms: number) =>
  call('enqueue', '/api/tasks/effect', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ms }) })

describe('the database restarted under a steady load', () => {
  it('the API answers 503 and never hangs while it is down; everyone reconnects; no accepted job is lost', async () => {
    // A backlog that is still queued when the database goes away.
    const preload = await Promise.all(Array.from({ length: PRELOAD }, () => enqueue(300)))
    expect(preload.map((answer) => answer.status)).toEqual(Array(PRELOAD).fill(202))

    const answers: Answer[] = [...preload]
    let stopLoad = false
    const loop = async () => {
      let lastJob = preload[0].jobId!
      while (!stopLoad && answers.length < MAX_LOAD_REQUESTS) {
        const queued = await enqueue(20)
        answers.push(queued)
        if (queued.jobId) lastJob = queued.jobId
        answers.push(await call('status', `/api/tasks/status/${lastJob}`))
        await new Promise((resolve) => setTimeout(resolve, LOAD_PAUSE_MS))
      }
    }
    const loops = [loop(), loop()]
    // The stop lands while enqueue transactions hold pooled connections: a socket dying under a
    // checked-out client is the case that used to crash the process.
    const burst = Promise.all(Array.from({ length: 20 }, () => enqueue(20).then((answer) => void answers.push(answer))))
    await new Promise((resolve) => setImmediate(resolve))

    await database.stop()
    const downAt = Date.now()
    const since = (t: number, what: Answer['what'], status: Answer['status']) =>
      answers.filter((a) => a.at >= t && a.what === what && a.status === status).length
    await until('503 answers to enqueue and status while the database is down', async () =>
      since(downAt, 'enqueue', 503) >= 3 && since(downAt, 'status', 503) >= 3 ? true : undefined,
      30_000,
    ).catch((e) => {
      console.log(JSON.stringify(answers.filter((a) => a.at >= downAt - 2000).map((a) => [a.what, a.at - downAt, a.ms, a.status])))
      console.log(api.output())
      throw e
    })
    const ready = await call('status', '/readyz')
    expect(ready.status).toBe(503)
    // The outage lasts a few seconds whatever the answers above took.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + OUTAGE_MS - Date.now())))

    database = await startEmbeddedPostgres({ dir, port, log: createSilentLogger() })
    const upAt = Date.now()
    await until('the API to accept an enqueue again', async () => (since(upAt, 'enqueue', 202) > 0 ? true : undefined), 30_000)
    const recoveredMs = Date.now() - upAt
    const startsAtRecovery = await pool.query('SELECT pid, count(*)::int AS n FROM test_starts GROUP BY pid')
    // Every process's LISTEN connection is back (API + 2 workers): wake-ups, cancel and push status work again.
    await until('three listener connections to be back', async () => {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'housler-listener' AND query LIKE 'LISTEN%'`,
      )
      return rows[0].n === 3 ? true : undefined
    }, 20_000)
    stopLoad = true
    await Promise.all([...loops, burst])

    const accepted = answers.filter((a) => a.status === 202).map((a) => a.jobId!)
    // Every accepted job finished, or the bound passed: the counts below say which.
    let finished = 0
    await until('every accepted job to finish', async () => {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) AND status = 'finished'`, [accepted])
      finished = rows[0].n
      return finished === accepted.length ? true : undefined
    }, 60_000, 250).catch(() => undefined)
    const statuses = await pool.query(`SELECT status, count(*)::int AS n FROM housler.jobs WHERE id = ANY($1) GROUP BY status`, [accepted])
    const effects = await pool.query('SELECT count(*)::int AS n FROM test_effects WHERE job_id = ANY($1)', [accepted])
    const startsAfter = await pool.query('SELECT pid, count(*)::int AS n FROM test_starts GROUP BY pid')
    // Jobs the outage interrupted mid-run (their settle or effect failed) and that ran again.
    const rerun = await pool.query('SELECT count(*)::int AS n, coalesce(max(c), 0)::int AS max FROM (SELECT count(*) AS c FROM test_starts GROUP BY job_id HAVING count(*) > 1) r')
    const before = new Map(startsAtRecovery.rows.map((row) => [row.pid, row.n]))

    const byStatus = (what: Answer['what']) => {
      const counts: Record<string, number> = {}
      for (const a of answers) if (a.what === what) counts[a.status] = (counts[a.status] ?? 0) + 1
      return counts
    }
    const slowest = Math.max(...answers.map((a) => a.ms))
    const fivexx = answers.filter((a) => typeof a.status === 'number' && a.status >= 500 && a.status !== 503).length
    const lost = accepted.length - finished
    console.log(
      `faults/database-restart: ${answers.length} requests (enqueue ${JSON.stringify(byStatus('enqueue'))}, status ${JSON.stringify(byStatus('status'))}), ` +
        `1 database restart (${OUTAGE_MS / 1000} s down), API accepting again ${recoveredMs} ms after start, slowest answer ${slowest} ms, ` +
        `${accepted.length} jobs accepted (${PRELOAD} before the outage), ${rerun.rows[0].n} interrupted and re-run (max ${rerun.rows[0].max} starts), ${lost} lost, ${effects.rows[0].n} effects, statuses ${JSON.stringify(statuses.rows)}`,
    )

    // Down: 503, never a 500, never a dropped connection, never a hang.
    expect(fivexx).toBe(0)
    expect(answers.filter((a) => a.status === 'network')).toEqual([])
    expect(answers.filter((a) => ![200, 202, 503].includes(a.status as number))).toEqual([])
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS)
    // Nobody died, and both workers ran jobs after the restart.
    for (const p of [api, ...workers]) expect(p.child.exitCode, p.output()).toBeNull()
    for (const worker of workers) {
      const after = startsAfter.rows.find((row) => row.pid === worker.pid)?.n ?? 0
      expect(after, `worker ${worker.pid} ran no job after the API recovered`).toBeGreaterThan(before.get(worker.pid) ?? 0)
    }
    // Nothing accepted — before or after the outage — was lost, and each effect happened once.
    expect(lost).toBe(0)
    expect(statuses.rows).toEqual([{ status: 'finished', n: accepted.length }])
    expect(effects.rows[0].n).toBe(accepted.length)
  }, 150_000)
})
