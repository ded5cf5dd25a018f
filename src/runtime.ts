import { loadConfig, type Config } from './config.ts'
import { createDb, startEmbeddedPostgres, type Db, type EmbeddedServer } from './db/index.ts'
import { createLogger, type Logger } from './log.ts'
import { createQueue, type Queue } from './queue/index.ts'
import { toStartupError } from './startup.ts'
import { TASKS } from './tasks/registry.ts'
import type { TaskDefinition } from './tasks/types.ts'

export type Runtime = {
  config: Config
  log: Logger
  url: string
  db: Db
  queue: Queue
  close(): Promise<void>
}

/**
 * Shared start-up of the composition roots: config, database (the embedded one when DATABASE_URL
 * is unset), pg-boss and our migrations. Everything below receives these objects as arguments.
 * A failure the user can fix rejects with a StartupError whose message names the cause and the fix.
 */
export async function openRuntime(options: {
  name: string
  env?: Record<string, string | undefined>
  tasks?: readonly TaskDefinition[]
  /** The task services; a close() on them runs at shutdown, after the queue stopped. */
  deps?: (config: Config, db: Db, log: Logger) => object
  supervise?: boolean
  /** Overrides LOG_LEVEL (the CLI keeps stdout for its own output). */
  logLevel?: string
}): Promise<Runtime> {
  const config = loadConfig(options.env)
  const log = createLogger({ level: options.logLevel ?? config.logLevel, name: options.name })
  let embedded: EmbeddedServer | undefined
  let url = config.databaseUrl
  if (!url) {
    embedded = await startEmbeddedPostgres({ dir: config.embeddedPgDir, port: config.embeddedPgPort, log })
    url = embedded.url
    log.info(
      { database_url: url, data_dir: embedded.dataDir },
      `embedded PostgreSQL running (data in ${embedded.dataDir}); join it from another terminal with DATABASE_URL=${url}`,
    )
  }
  const db = createDb({ url, poolSize: config.dbPoolSize, applicationName: `housler-${options.name}` })
  let deps: { close?: () => Promise<void> } = {}
  try {
    deps = options.deps?.(config, db, log) ?? {}
    const queue = await createQueue({
      config,
      db,
      url,
      tasks: options.tasks ?? TASKS,
      deps: deps as Record<string, unknown>,
      log,
      supervise: options.supervise,
    })
    return {
      config,
      log,
      url,
      db,
      queue,
      async close() {
        await queue.stop()
        await deps.close?.()
        await db.destroy()
        await embedded?.stop()
      },
    }
  } catch (e) {
    await deps.close?.()
    await db.destroy()
    await embedded?.stop()
    throw toStartupError(e, config.databaseUrl ?? url)
  }
}
