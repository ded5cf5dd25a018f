import { loadConfig, type Config } from './config.ts'
import { connectionBudget, createDb, detectPooler, startEmbeddedPostgres, withConnectRetry, type Db, type EmbeddedServer, type PoolerMode } from './db/index.ts'
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
  deps?: (config: Config, db: Db) => object
  supervise?: boolean
  /** Overrides LOG_LEVEL (the CLI keeps stdout for its own output). */
  logLevel?: string
  /** What the process does, which sizes its connection budget (neither: a one-off tool like the CLI). */
  serves?: { api?: boolean; worker?: boolean }
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
  const databaseUrl = url
  const pooler: PoolerMode = embedded
    ? 'direct'
    : config.dbPooler === 'auto'
      ? await withConnectRetry('pooler probe', () => detectPooler(databaseUrl), log)
      : config.dbPooler
  // LISTEN needs a session of its own: through a transaction pooler only DATABASE_LISTEN_URL gives one.
  const listenUrl = config.databaseListenUrl ?? (pooler === 'direct' ? url : undefined)
  const serves = { api: options.serves?.api ?? false, worker: options.serves?.worker ?? false }
  const budget = connectionBudget({ ...serves, concurrency: config.workerConcurrency, listen: listenUrl !== undefined, dbPoolSize: config.dbPoolSize })
  log.info(
    { listen: budget.listen, pool: budget.pool, pooler, replica: Boolean(config.databaseReadUrl) },
    `connections: listen ${budget.listen}, pool ≤ ${budget.pool}`,
  )
  if (!listenUrl) {
    log.warn(
      { poll_interval_ms: config.workerPollIntervalMs },
      `DATABASE_URL goes through a transaction pooler and DATABASE_LISTEN_URL is unset: no LISTEN, workers poll every ${config.workerPollIntervalMs} ms`,
    )
  }
  const db = createDb({
    url,
    poolSize: budget.pool,
    readUrl: config.databaseReadUrl,
    applicationName: `housler-${options.name}`,
    pooler,
    // A worker has nothing better to do than wait for a session; an API request answers 503 instead.
    refusedRetryMs: serves.worker && !serves.api ? 60_000 : 2_000,
    log,
  })
  try {
    const queue = await withConnectRetry(
      'start-up',
      () =>
        createQueue({
          config,
          db,
          url: listenUrl ?? url,
          listen: listenUrl !== undefined,
          tasks: options.tasks ?? TASKS,
          deps: (options.deps?.(config, db) ?? {}) as Record<string, unknown>,
          log,
          supervise: options.supervise,
        }),
      log,
    )
    return {
      config,
      log,
      url,
      db,
      queue,
      async close() {
        await queue.stop()
        await db.destroy()
        await embedded?.stop()
      },
    }
  } catch (e) {
    await db.destroy()
    await embedded?.stop()
    throw toStartupError(e, config.databaseUrl ?? url)
  }
}
