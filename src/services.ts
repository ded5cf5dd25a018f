import type { Config } from './config.ts'
import type { Db } from './db/index.ts'
import { createFetcher } from './fetch/index.ts'
import { createStores } from './store/index.ts'
import type { TaskServices } from './tasks/services.ts'

/** Builds the services task handlers use: the safe fetcher and the Postgres stores. */
export function createTaskServices(config: Config, db: Db): TaskServices {
  return { config, fetcher: createFetcher(config), ...createStores(db.db) }
}
