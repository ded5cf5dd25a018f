import { loadConfig, type Config } from './config.ts'
import { coerceError } from './errors.ts'
import {
  connectionBudget,
  createDb,
  detectPooler,
  migrateToLatest,
  startEmbeddedPostgres,
  withConnectRetry,
  type Db,
  type EmbeddedServer,
  type PoolerMode,
} from './db/index.ts'
import { createLogger, type Logger } from './log.ts'
import { createMetrics, NO_METRICS, type Metrics } from './metrics/index.ts'
import { createQueue, proxyHealthOf, startQueueBackend, type Queue } from './queue/index.ts'
import { toStartupError } from './startup.ts'
import { TASKS } from './tasks/registry.ts'
import type { TaskDefinition } from './tasks/types.ts'
import { startWebhookDelivery, type WebhookDelivery } from './webhooks/index.ts'

export type Runtime = {
  config: Config
  log: Logger
  url: string
  db: Db
  queue: Queue
  /** Prometheus registry of this process. */
  metrics: Metrics
  /** One TTL cleanup pass now (RQ_RESULT_TTL, RQ_FAILURE_TTL, orphaned dependents, old tombstones). */
  cleanup(): Promise<{ expired: number; orphansCanceled: number }>
  /** Runs the cleanup every CLEANUP_INTERVAL_SECONDS in this process until close(). */
  startCleanup(): void
  /** Stops the workers (grace period), webhook delivery, pg-boss, the pools and the embedded database. */
  close(): Promise<void>
}

/**
 * The composition root shared by the server, the worker and the CLI: config, database (the
 * embedded one when DATABASE_URL is unset), pg-boss, our migrations after it, metrics, the queue,
 * webhook delivery and the cleanup timer. Everything below receives these objects as arguments.
 * A failure the user can fix rejects with a StartupError whose message names the cause and the fix.
 */
export async function openRuntime(options: {
  name: string
  env?: Record<string, string | undefined>
  tasks?: readonly TaskDefinition[]
  /** The task services; a close() on them runs at shutdown, after the queue stopped. */
  deps?: (config: Config, db: Db, log: Logger) => object
  /** Run pg-boss supervision (expiry, heartbeat checks) in this process. Default true. */
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
    // The password stays in its file: the log shows how a shell reads it.
    log.info(
      { data_dir: embedded.dataDir, port: embedded.port },
      `embedded PostgreSQL running (data in ${embedded.dataDir}); join it from another terminal with DATABASE_URL=${embedded.joinUrl}`,
    )
  }
  const tasks = options.tasks ?? TASKS
  const serves = { api: options.serves?.api ?? false, worker: options.serves?.worker ?? false }
  // Only a worker-only process waits out an unavailable database (forty of them starting against a
  // full or restarting server); a server or tool with a wrong DATABASE_URL says so and exits.
  const workerOnly = serves.worker && !serves.api
  const connect = <T>(what: string, attempt: () => Promise<T>): Promise<T> => (workerOnly ? withConnectRetry(what, attempt, log) : attempt())
  let pooler: PoolerMode
  try {
    const databaseUrl = url
    if (embedded || config.dbPooler === 'direct') pooler = 'direct'
    else if (config.dbPooler === 'transaction') pooler = 'transaction'
    else pooler = await connect('pooler probe', () => detectPooler(databaseUrl))
  } catch (e) {
    await embedded?.stop()
    throw toStartupError(e, config.databaseUrl ?? url)
  }
  // LISTEN needs a session of its own: through a transaction pooler only DATABASE_LISTEN_URL gives one.
  const listenUrl = config.databaseListenUrl ?? (pooler === 'direct' ? url : undefined)
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
    refusedRetryMs: workerOnly ? 60_000 : 2_000,
    log,
  })
  let backend: Awaited<ReturnType<typeof startQueueBackend>> | undefined
  try {
    backend = await connect('start-up', async () => {
      // pg-boss creates its schema first: our migrations' views read it.
      const started = await startQueueBackend({ db, listenUrl, config, tasks, log, supervise: options.supervise ?? true })
      try {
        const migration = await migrateToLatest(db.db)
        if (migration.error) throw coerceError(migration.error)
      } catch (e) {
        await started.close()
        throw e
      }
      return started
    })
  } catch (e) {
    await backend?.close()
    await db.destroy()
    await embedded?.stop()
    throw toStartupError(e, config.databaseUrl ?? url)
  }
  const deps: { close?: () => Promise<void> } = options.deps?.(config, db, log) ?? {}
  let webhookDelivery: WebhookDelivery | undefined
  let cleanupTimer: NodeJS.Timeout | undefined
  // A worker-only process without METRICS_PORT has no one to serve its metrics to.
  const scraped = !workerOnly || config.metricsPort !== undefined
  const metrics = scraped
    ? await createMetrics({
        snapshot: async () => ({
          depth: await queue.monitoring.queueStats(),
          liveWorkers: await queue.monitoring.liveWorkerCount(),
          replicaLagSeconds: await queue.monitoring.replicaLagSeconds(),
        }),
        proxyHealth: proxyHealthOf(deps as Record<string, unknown>),
        readsReplica: db.replica,
        connections: () => ({ refusals: db.refusals(), pools: db.poolCounts() }),
      })
    : NO_METRICS
  const { queue, cleanup } = createQueue({
    config,
    db,
    backend,
    tasks,
    deps: deps as Record<string, unknown>,
    metrics,
    log,
    // Worker processes deliver webhooks; one loop per process however many workers it runs.
    onFirstWorker: () => {
      webhookDelivery ??= startWebhookDelivery({ db: db.background, config, log })
    },
  })
  const queueBackend = backend
  return {
    config,
    log,
    url,
    db,
    queue,
    metrics,
    cleanup,
    startCleanup() {
      const tick = () => cleanup().catch((e) => log.warn({ err: coerceError(e).message }, 'cleanup pass failed'))
      cleanupTimer = setInterval(tick, config.cleanupIntervalSeconds * 1000)
      cleanupTimer.unref()
      void tick()
    },
    async close() {
      if (cleanupTimer) clearInterval(cleanupTimer)
      await queue.stop()
      await deps.close?.()
      await webhookDelivery?.stop()
      await queueBackend.close()
      await db.destroy()
      await embedded?.stop()
    },
  }
}
