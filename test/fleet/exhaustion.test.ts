import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet, type Fleet } from '../helpers/fleet.ts'
import { SERVICE_DATABASE, SERVICE_ROLE, startPrivateCluster, type PrivateCluster } from '../helpers/private-cluster.ts'

// max_connections taken on purpose for 10 s, under load: every slot a non-superuser may use is held by
// another role, and the service's pooled sessions are ended so that it must ask for new ones.
const MAX_CONNECTIONS = 50
const HOLD_MS = 10_000
// Enqueued two at a time from before the slots are taken until after they are given back.
const DURING = 1000

let cluster: PrivateCluster
let admin: pg.Client
let fleet: Fleet | undefined
const hogs: pg.Client[] = []

beforeAll(async () => {
  cluster = await startPrivateCluster({ max_connections: MAX_CONNECTIONS })
  admin = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
  await admin.connect()
  await admin.query('CREATE ROLE hog LOGIN')
})

afterAll(async () => {
  await Promise.all(hogs.map((hog) => hog.end().catch(() => {})))
  await fleet?.stop()
  await admin?.end()
  await cluster?.stop()
})

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

describe(`max_connections=${MAX_CONNECTIONS} exhausted for ${HOLD_MS / 1000} s`, () => {
  it('loses and fails no job, answers enqueues 503 + Retry-After, and recovers on its own', async () => {
    fleet = await startFleet({ databaseUrl: cluster.serviceUrl(), adminUrl: cluster.adminUrl(SERVICE_DATABASE), workers: 8, concurrency: 2 })
    await fleet.allReady(300_000)
    const before = await fleet.enqueue(200, 20)

    const during = fleet.enqueue(DURING, 20, 2)
    await takeEverySlot()
    // The service's pools race the test for each freed slot: end their sessions until none is left.
    for (;;) {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name <> 'housler-listener'`,
        [SERVICE_ROLE],
      )
      await takeEverySlot()
      if (rows[0].n === 0) break
    }
    const held = hogs.length
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
  })
})
