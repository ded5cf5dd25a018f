import pg from 'pg'
import { PgBoss } from 'pg-boss'
import type { TestProject } from 'vitest/node'
import { createDb, migrateToLatest, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/index.ts'
import { createSilentLogger } from '../../src/log.ts'

export const TEMPLATE_DB = 'housler_test_template'

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string
  }
}

let embedded: EmbeddedServer | undefined

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * One Postgres for the whole run: DATABASE_URL when given (CI may use the local server), else an
 * embedded one. A template database is migrated once (pg-boss schema, then ours); every test file
 * clones it, which takes milliseconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env.DATABASE_URL
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres({ dir: '.data/test-postgres', port: 54330, log: createSilentLogger() })
    adminUrl = embedded.url
  }
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  // Drop leftovers of earlier runs (databases of failed tests are kept until the next run for inspection).
  const old = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'housler_test_%'`)
  for (const row of old.rows) await admin.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`)
  await admin.end()

  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB)
  const boss = new PgBoss({ connectionString: templateUrl, supervise: false, schedule: false, registerInstance: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false })
  const db = createDb({ url: templateUrl, poolSize: 2 })
  const result = await migrateToLatest(db.db)
  await db.destroy()
  if (result.error) throw result.error

  project.provide('adminUrl', adminUrl)
  return async () => {
    await embedded?.stop()
  }
}
