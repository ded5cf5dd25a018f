import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import type { Database } from './database.ts'

export type Db = {
  db: Kysely<Database>
  pool: pg.Pool
  /**
   * A pool whose sessions run with synchronous_commit=off: for progress writes, which are
   * ephemeral. A crash may lose the last few hundred milliseconds of progress, never a job.
   */
  fastPool: pg.Pool
  destroy(): Promise<void>
}

// Timestamps stay JS Dates; bigint counts come back as numbers (our counts never pass 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export function createDb(options: { url: string; poolSize: number; applicationName?: string }): Db {
  const common = {
    connectionString: options.url,
    connectionTimeoutMillis: 5000,
    application_name: options.applicationName ?? 'housler',
  }
  const pool = new pg.Pool({ ...common, max: options.poolSize })
  const fastPool = new pg.Pool({ ...common, max: 2, options: '-c synchronous_commit=off' })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {})
  fastPool.on('error', () => {})
  // A checked-out client has no pool listener, and Kysely adds none: its socket dying mid-transaction
  // would emit an unheard 'error' and kill the process. Its query rejects anyway; the pool drops it on release.
  for (const p of [pool, fastPool]) p.on('connect', (client) => client.on('error', () => {}))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  let destroyed = false
  return {
    db,
    pool,
    fastPool,
    async destroy() {
      if (destroyed) return
      destroyed = true
      await Promise.all([db.destroy(), fastPool.end()])
    },
  }
}
