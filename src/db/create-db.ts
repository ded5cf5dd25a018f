import pg from 'pg'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { coerceError, REFUSAL_SQLSTATES } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Database } from './database.ts'
import { ElasticPool } from './elastic-pool.ts'
import { UnnamedStatementClient, type PoolerMode } from './pooler.ts'

/**
 * One database endpoint: Kysely over its pool, and over the pool's background lane (periodic work
 * that waits for an open connection rather than opening another).
 */
export type DbEndpoint = { db: Kysely<Database>; background: Kysely<Database>; pool: ElasticPool }

export type Db = DbEndpoint & {
  /** Where reads that may lag go (status, dashboard, stats, metrics): the replica, or the primary itself. */
  read: DbEndpoint
  /** True when `read` is a separate replica (DATABASE_READ_URL). */
  replica: boolean
  pooler: PoolerMode
  /** Connects refused by the server (53300, 57P03) since start, per pool. */
  refusals(): { primary: number; replica: number }
  /** Open and idle connections per pool, and the most each may hold. */
  poolCounts(): Array<{ database: 'primary' | 'replica'; open: number; idle: number; waiting: number; max: number }>
  destroy(): Promise<void>
}

export type DbOptions = {
  url: string
  /** The most connections the primary pool may hold (default 4); it holds one while lightly used. */
  poolSize?: number
  applicationName?: string
  /** A streaming replica for lag-tolerant reads; unset: they go to the primary. */
  readUrl?: string
  readPoolSize?: number
  /** 'transaction': behind PgBouncer-style transaction pooling, so no named prepared statements. */
  pooler?: PoolerMode
  /** With no connection open, how long a checkout retries refused connects before failing (default 2000 ms). */
  refusedRetryMs?: number
  log?: Logger
}

// Idle connections close after this: a process that went quiet gives its sessions back.
const IDLE_TIMEOUT_MS = 10_000

// Timestamps stay JS Dates; bigint counts come back as numbers (our counts never pass 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

function createEndpoint(options: DbOptions, url: string, max: number, role: string): DbEndpoint {
  const log = options.log
  const pool = new ElasticPool({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    application_name: options.applicationName ?? 'housler',
    max,
    refusedRetryMs: options.refusedRetryMs ?? 2000,
    ...(options.pooler === 'transaction' ? { Client: UnnamedStatementClient } : {}),
    events: {
      onRefused: (error) => {
        const code = (error as Error & { code?: string }).code ?? ''
        log?.warn(
          { database: role, code, reason: REFUSAL_SQLSTATES[code], err: coerceError(error).message },
          'database refused a connection; waiting for an open one or retrying with back-off',
        )
      },
      onRecovered: (refusals) => log?.info({ database: role, refusals }, 'database accepts connections again'),
    },
  })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {})
  // A checked-out client has no pool listener, and Kysely adds none: its socket dying mid-transaction
  // would emit an unheard 'error' and kill the process. Its query rejects anyway; the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => {}))
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    background: new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool.background }) }),
    pool,
  }
}

/**
 * Seconds the replica's replayed state trails the primary: 0 while it has replayed all it received,
 * else the age of the last transaction it replayed (one that replayed none since it started is
 * behind by its uptime). Null when the server is not a replica.
 */
export async function readReplicaLagSeconds(db: Kysely<Database>): Promise<number | null> {
  const { rows } = await sql<{ lag: number | null }>`
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
      WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
      ELSE extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time()))::float8 END AS lag`.execute(db)
  return rows[0]?.lag ?? null
}

export function createDb(options: DbOptions): Db {
  const primary = createEndpoint(options, options.url, options.poolSize ?? 4, 'primary')
  const replica = options.readUrl ? createEndpoint(options, options.readUrl, options.readPoolSize ?? options.poolSize ?? 4, 'replica') : undefined
  let destroyed = false
  return {
    ...primary,
    read: replica ?? primary,
    replica: replica !== undefined,
    pooler: options.pooler ?? 'direct',
    refusals: () => ({ primary: primary.pool.refusedTotal, replica: replica?.pool.refusedTotal ?? 0 }),
    poolCounts: () =>
      [['primary', primary.pool] as const, ...(replica ? [['replica', replica.pool] as const] : [])].map(([database, pool]) => ({
        database,
        open: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        max: pool.ceiling,
      })),
    async destroy() {
      if (destroyed) return
      destroyed = true
      await Promise.all([primary.background.destroy(), replica?.background.destroy()])
      await Promise.all([primary.db.destroy(), replica?.db.destroy()])
    },
  }
}
