import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
import { FileMigrationProvider, Migrator, type MigrationResultSet } from 'kysely/migration'

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
    migrationTableSchema: 'housler',
  })
}

/**
 * Runs our migrations under Kysely's advisory lock (safe when N replicas start at once).
 * Must run after pg-boss has created its schema: our views read it. Never throws.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  await db.schema.createSchema('housler').ifNotExists().execute().catch(() => {})
  return createMigrator(db).migrateToLatest()
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const migrations = await createMigrator(db).getMigrations()
  return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name)
}
