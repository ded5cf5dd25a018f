import { readFile } from 'node:fs/promises'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet, type Fleet } from '../helpers/fleet.ts'
import { until } from '../helpers/processes.ts'
import {
  readPgBouncerSettings,
  SERVICE_DATABASE,
  SERVICE_ROLE,
  startPgBouncer,
  startPrivateCluster,
  type Bouncer,
  type PrivateCluster,
} from '../helpers/private-cluster.ts'

// Issue 16's fleet: 40 worker processes (WORKER_CONCURRENCY=2) and the API on ONE stock-sized
// Postgres (max_connections=50), straight and through PgBouncer in transaction mode; then that
// server's max_connections taken on purpose for 10 s. One cluster for all four scenarios.
const WORKERS = Number(process.env.FLEET_WORKERS ?? 40)
const JOBS = Number(process.env.FLEET_JOBS ?? 2000)
const JOB_MS = 10
const MAX_CONNECTIONS = 50
// The exhaustion scenario: slots held this long, and jobs enqueued two at a time from before the
// slots are taken until after they are given back.
const HOLD_MS = 10_000
const DURING = 1000

let cluster: PrivateCluster
let bouncer: Bouncer | undefined
let fleet: Fleet | undefined
const hogs: pg.Client[] = []

beforeAll(async () => {
  // The PgBouncer, as deploy/pgbouncer.ini (which these scenarios run) must keep it.
  expect(await readPgBouncerSettings()).toMatchObject({ pool_mode: 'transaction', default_pool_size: '20' })
  cluster = await startPrivateCluster({ max_connections: MAX_CONNECTIONS })
})

afterAll(async () => {
  await Promise.all(hogs.map((hog) => hog.end().catch(() => {})))
  await fleet?.stop()
  await bouncer?.stop()
  await cluster?.stop()
})

/** A PgBouncer of the scenario's own: none of the previous fleet's server sessions carry over. */
async function freshBouncer(): Promise<Bouncer> {
  await bouncer?.stop()
  await serverEmpty()
  bouncer = await startPgBouncer(cluster)
  return bouncer
}

/** Waits until the previous fleet's sessions are gone, so each scenario starts on an empty server. */
async function serverEmpty(): Promise<void> {
  const admin = new pg.Client({ connectionString: cluster.adminUrl() })
  await admin.connect()
  try {
    await until('the previous sessions to end', async () => {
      const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [SERVICE_ROLE])
      return rows[0].n === 0 ? true : undefined
    }, 60_000, 200)
  } finally {
    await admin.end()
  }
}

async function rssMegabytes(pids: number[]): Promise<number> {
  let kb = 0
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return Math.round(kb / 1024)
}

async function drainScenario(name: string, options: { databaseUrl: string; listenUrl?: string }) {
  const started = Date.now()
  fleet = await startFleet({ ...options, adminUrl: cluster.adminUrl(SERVICE_DATABASE), workers: WORKERS, concurrency: 2 })
  const api = fleet.api
  const enqueued = await fleet.enqueue(JOBS, JOB_MS).catch((e) => {
    throw new Error(`enqueue failed (API exit ${api.child.exitCode}): ${(e as Error).message}\n${api.output()}`)
  })
  const report = await fleet.drain(enqueued.ids, 300_000)
  const seconds = (Date.now() - started) / 1000
  const rss = await rssMegabytes(fleet.workers.map((worker) => worker.child.pid!))
  const exited = fleet.exited()
  console.log(
    `${name}: ${report.finished}/${JOBS} finished, ${report.failed} failed, ${report.rerun} run twice, ` +
      `${report.workersThatRan}/${WORKERS} workers ran jobs, ${fleet.workers.filter((w) => w.ready).length} ready; ` +
      `peak ${fleet.peakConnections()} server connections of max_connections=${MAX_CONNECTIONS}; ` +
      `${enqueued.refused} enqueues answered 503; ${seconds.toFixed(1)} s from start; workers' RSS ${Math.round(rss / WORKERS)} MB each`,
  )
  expect(exited.map((worker) => worker.output())).toEqual([])
  expect(new Set(enqueued.ids).size).toBe(JOBS)
  expect(report.finished).toBe(JOBS)
  expect(report.failed).toBe(0)
  expect(report.connectionErrors).toBe(0)
  // Exactly once: no job's handler ran a second attempt.
  expect(report.rerun).toBe(0)
  expect(fleet.peakConnections()).toBeLessThanOrEqual(MAX_CONNECTIONS)
  await fleet.stop()
  fleet = undefined
}

/** Opens sessions as another role until the server refuses one (53300). */
async function takeEverySlot(): Promise<void> {
  for (;;) {
    const hog = new pg.Client({ connectionString: `postgres://hog@127.0.0.1:${cluster.port}/postgres` })
    hog.on('error', () => {})
    try {
      await hog.connect()
      hogs.push(hog)
    } catch (e) {
      if ((e as { code?: string }).code === '53300') return
      throw e
    }
  }
}

describe(`${WORKERS} worker processes on max_connections=${MAX_CONNECTIONS}`, () => {
  it(`drain ${JOBS} jobs exactly once, connected straight to Postgres`, async () => {
    await serverEmpty()
    await drainScenario('direct', { databaseUrl: cluster.serviceUrl() })
  })

  it(`drain ${JOBS} jobs exactly once through PgBouncer (transaction mode, pool 20), LISTEN direct`, async () => {
    await drainScenario('pgbouncer + DATABASE_LISTEN_URL', { databaseUrl: (await freshBouncer()).url(), listenUrl: cluster.serviceUrl() })
  })

  it(`drain ${JOBS} jobs exactly once through PgBouncer without DATABASE_LISTEN_URL (polling)`, async () => {
    await drainScenario('pgbouncer, polling', { databaseUrl: (await freshBouncer()).url() })
  })

  // Every slot a non-superuser may use is held by another role, under load, and the service's pooled
  // sessions are ended so that it must ask for new ones.
  it(`loses and fails no job with max_connections taken for ${HOLD_MS / 1000} s, answers enqueues 503 + Retry-After, and recovers on its own`, async () => {
    await bouncer?.stop()
    bouncer = undefined
    await serverEmpty()
    const admin = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
    await admin.connect()
    try {
      await admin.query('CREATE ROLE hog LOGIN')
      fleet = await startFleet({ databaseUrl: cluster.serviceUrl(), adminUrl: cluster.adminUrl(SERVICE_DATABASE), workers: 8, concurrency: 2 })
      await fleet.allReady(300_000)
      const before = await fleet.enqueue(200, 20)

      await takeEverySlot()
      // The service's pools race the test for each freed slot: end their sessions until none is left. A
      // session still authenticating has no usename yet and may be given the slot: wait for it too.
      for (;;) {
        const { rows } = await admin.query<{ ended: number; starting: number }>(
          `SELECT count(pg_terminate_backend(pid)) FILTER (WHERE usename = $1 AND application_name <> 'housler-listener')::int AS ended,
                  count(*) FILTER (WHERE usename IS NULL AND backend_type = 'client backend')::int AS starting
             FROM pg_stat_activity`,
          [SERVICE_ROLE],
        )
        await takeEverySlot()
        if (rows[0].ended === 0 && rows[0].starting === 0) break
      }
      const held = hogs.length
      // Sent once every slot is taken (on a quiet machine a stream started earlier is done before that).
      const during = fleet.enqueue(DURING, 20, 2)
      // The scenario is a hold of this length (issue 16), not a wait for something to happen.
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS))
      await Promise.all(hogs.splice(0).map((hog) => hog.end()))

      const afterwards = await during
      const ids = [...before.ids, ...afterwards.ids]
      const report = await fleet.drain(ids, 300_000)
      console.log(
        `exhaustion: ${held} sessions held by another role for ${HOLD_MS / 1000} s; ${afterwards.refused} enqueues answered 503 ` +
          `(Retry-After ${[...afterwards.retryAfter].join(',')}); ${report.finished}/${ids.length} finished, ${report.failed} failed, ${report.rerun} run twice`,
      )
      expect(held).toBeGreaterThan(0)
      expect(afterwards.refused).toBeGreaterThan(0)
      expect([...afterwards.retryAfter]).toEqual(['2'])
      expect(new Set(ids).size).toBe(200 + DURING)
      expect(report.finished).toBe(200 + DURING)
      expect(report.failed).toBe(0)
      expect(report.connectionErrors).toBe(0)
      expect(fleet.exited().map((worker) => worker.output())).toEqual([])
    } finally {
      await admin.end()
    }
  })
})
