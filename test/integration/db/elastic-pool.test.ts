import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ElasticPool } from '../../../src/db/index.ts'
import { until } from '../../helpers/processes.ts'
import { SERVICE_ROLE, startPrivateCluster, type PrivateCluster } from '../../helpers/private-cluster.ts'

let cluster: PrivateCluster
let admin: pg.Client

beforeAll(async () => {
  cluster = await startPrivateCluster()
  admin = new pg.Client({ connectionString: cluster.adminUrl() })
  await admin.connect()
})

afterAll(async () => {
  await admin?.end()
  await cluster?.stop()
})

async function limitRole(connections: number) {
  await admin.query(`ALTER ROLE ${SERVICE_ROLE} CONNECTION LIMIT ${connections}`)
}

/** The one slot of a role limited to one connection (the previous test's session may still be exiting). */
async function holdTheSlot(): Promise<pg.Client> {
  return until('the only slot', async () => {
    const client = new pg.Client({ connectionString: cluster.serviceUrl() })
    client.on('error', () => {})
    return client.connect().then(
      () => client,
      () => undefined,
    )
  })
}

async function serverSessions(applicationName: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
  return rows[0].n
}

function createPool(name: string, options: { max?: number; refusedRetryMs?: number; events?: ConstructorParameters<typeof ElasticPool>[0]['events'] } = {}) {
  const pool = new ElasticPool({
    connectionString: cluster.serviceUrl(),
    application_name: name,
    max: options.max ?? 3,
    idleTimeoutMillis: 300,
    connectionTimeoutMillis: 10_000,
    refusedRetryMs: options.refusedRetryMs ?? 30_000,
    events: options.events,
  })
  pool.on('error', () => {})
  return pool
}

describe('the elastic pool', () => {
  it('runs overlapping short queries on one connection', async () => {
    await limitRole(-1)
    const pool = createPool('elastic-overlap')
    let widest = 0
    for (let round = 0; round < 50; round++) {
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2'), pool.query('SELECT 3')])
      widest = Math.max(widest, pool.totalCount)
    }
    expect(widest).toBe(1)
    expect(await serverSessions('elastic-overlap')).toBe(1)
    await pool.end()
  })

  it('grows to its ceiling under sustained load and shrinks back when idle', async () => {
    await limitRole(-1)
    const pool = createPool('elastic-load', { max: 3 })
    let widest = 0
    const deadline = Date.now() + 1500
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < deadline) {
          await pool.query('SELECT pg_sleep(0.02)')
          widest = Math.max(widest, pool.totalCount)
        }
      }),
    )
    expect(widest).toBe(3)
    // It keeps one session (min 1), so a full server cannot take every connection from it.
    await until('idle connections closed', async () => (pool.totalCount === 1 ? true : undefined), 10_000)
    expect(await serverSessions('elastic-load')).toBe(1)
    // Shrunk back: a lone query afterwards opens one connection, not three.
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')])
    expect(pool.totalCount).toBe(1)
    await pool.end()
  })

  it('waits for its open connection when the server refuses another (53300), failing nothing', async () => {
    await limitRole(1)
    const pool = createPool('elastic-refused-open', { max: 3 })
    await pool.query('SELECT 1')
    let answered = 0
    const deadline = Date.now() + 1500
    await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        while (Date.now() < deadline) {
          const { rows } = await pool.query('SELECT pg_sleep(0.02), $1::int AS i', [i])
          if (rows[0].i === i) answered++
        }
      }),
    )
    expect(answered).toBeGreaterThan(8)
    expect(pool.refusedTotal).toBeGreaterThan(0)
    expect(pool.totalCount).toBe(1)
    await pool.end()
  })

  it('with no connection open, retries refused connects until a slot frees, logging the episode once', async () => {
    await limitRole(1)
    const holder = await holdTheSlot()
    const events: string[] = []
    const pool = createPool('elastic-refused-none', {
      events: { onRefused: (error) => events.push(`refused ${(error as { code?: string }).code}`), onRecovered: (n) => events.push(`recovered after ${n}`) },
    })
    const answer = pool.query('SELECT 42 AS answer')
    await until('several refusals', async () => (pool.refusedTotal >= 3 ? true : undefined), 20_000, 20)
    await holder.end()
    expect((await answer).rows[0].answer).toBe(42)
    expect(events[0]).toBe('refused 53300')
    expect(events).toHaveLength(2)
    expect(events[1]).toMatch(/^recovered after \d+$/)
    await pool.end()
  })

  it('gives up after refusedRetryMs with the server\'s refusal', async () => {
    await limitRole(1)
    const holder = await holdTheSlot()
    const pool = createPool('elastic-refused-deadline', { refusedRetryMs: 400 })
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: '53300' })
    await holder.end()
    await pool.end()
  })
})
