import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import type { TestProject } from 'vitest/node'
import { createDb, migrateToLatest, removeEmbeddedData, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/index.ts'
import { createSilentLogger } from '../../src/log.ts'
import { withDatabase } from './database-url.ts'
import { freePort } from './processes.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string
    templateDb: string
  }
}

/**
 * One Postgres for the whole run: DATABASE_URL when given (CI may use the local server), else an
 * embedded one of this run's own. A template database is migrated once (pg-boss schema, then ours);
 * every test file clones it, which takes milliseconds. Names carry a run id, so runs can overlap.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = randomBytes(4).toString('hex')
  let embedded: EmbeddedServer | undefined
  const embeddedDir = `.data/test-pg-${runId}`
  let adminUrl = process.env.DATABASE_URL
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres({ dir: embeddedDir, port: await freePort(), log: createSilentLogger() })
    adminUrl = embedded.url
  }
  const templateDb = `housler_tpl_${runId}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${templateDb}`)
  await admin.end()

  const templateUrl = withDatabase(adminUrl, templateDb)
  const boss = new PgBoss({ connectionString: templateUrl, supervise: false, schedule: false, registerInstance: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false })
  const db = createDb({ url: templateUrl, poolSize: 2 })
  const result = await migrateToLatest(db.db)
  await db.destroy()
  if (result.error) throw result.error

  project.provide('adminUrl', adminUrl)
  project.provide('templateDb', templateDb)
  return async () => {
    // What is left besides the template belongs to failed tests, kept for inspection (test/helpers/postgres.ts).
    const cleanup = new pg.Client({ connectionString: adminUrl })
    await cleanup.connect()
    await cleanup.query(`DROP DATABASE IF EXISTS ${templateDb} WITH (FORCE)`)
    const kept = await cleanup.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`housler_test_${runId}_%`])
    await cleanup.end()
    if (!embedded) return
    await embedded.stop()
    if (kept.rows.length === 0) await removeEmbeddedData(embedded.dataDir)
    else console.log(`kept ${embedded.dataDir}, a PostgreSQL data directory holding the databases of failed tests`)
  }
}
