export { createDb, type Db } from './create-db.ts'
export { migrateToLatest, pendingMigrations } from './migrate.ts'
export { startEmbeddedPostgres, type EmbeddedServer } from './embedded.ts'
export type { Database, TaskTable } from './database.ts'
