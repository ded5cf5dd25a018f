import { sql } from 'kysely'
import type { PgBoss } from 'pg-boss'
import type { Config } from '../config.ts'
import { coerceError, isConnectionRefusal, isDatabaseUnreachable } from '../errors.ts'
import type { Db } from '../db/index.ts'
import { migrateToLatest, pendingMigrations, readReplicaLagSeconds } from '../db/index.ts'
import type { Logger } from '../log.ts'
import type { TaskDefinition } from '../tasks/types.ts'
import { startBoss } from './boss.ts'
import { enqueueFlow, enqueueMany, enqueueWithOutcome, findTask, validatePayload, type EnqueueRequest, type FlowStep } from './enqueue.ts'
import { createFallback } from './fallback.ts'
import { createGroupCommit } from './group-commit.ts'
import { assertLive, cancelDependents, cancelJob, deleteJob, findJob, findJobStatus, requeueJob, runCleanup } from './lifecycle.ts'
import { CHANNELS, createListener, createPollingListener, type Listener } from './listener.ts'
import { createProgressWriter } from './progress.ts'
import { computeStats, createStatsCache, type QueueStats } from './stats.ts'
import { jobToStatusBody, type JobRow, type Status, type StatusBody } from './status.ts'
import { createWorker, type Worker, type WorkerEvents } from './worker.ts'
import { webhookStateFromRow, startWebhookDelivery, type WebhookDelivery, type WebhookState } from '../webhooks/index.ts'
import { withRegistry } from './worker-registry.ts'
import { createMonitoring } from './monitoring.ts'
import { createMetrics } from '../metrics/index.ts'

export { STATUSES, PRIORITIES, TERMINAL_STATUSES, jobToStatusBody } from './status.ts'
export type { Status, StatusBody, Priority, JobRow } from './status.ts'
export type { EnqueueRequest, EnqueueOutcome, FlowStep } from './enqueue.ts'
export { hashRequest, type IdempotencyClaim } from './idempotency.ts'
export type { QueueStats } from './stats.ts'
export type { Worker, WorkerEvents, ActiveJob } from './worker.ts'
export { CHANNELS } from './listener.ts'
export { readSchemaState, type WorkerRow, type QueueStatRow, type ThroughputRow, type FailedJobRow, type JobIndexRow } from './monitoring.ts'

export type QueueOptions = {
  config: Config
  db: Db
  /** Connection string of the same database for the LISTEN session (direct, never through a transaction pooler). */
  url: string
  /** Hold a LISTEN session (default true); false: workers and push streams poll. */
  listen?: boolean
  tasks: readonly TaskDefinition[]
  /** Services handed to task handlers (fetcher, stores, …). */
  deps: Record<string, unknown>
  log: Logger
  /** Run pg-boss supervision (expiry, heartbeat checks) in this process. Default true. */
  supervise?: boolean
}

/**
 * The RQ-compatible queue over pg-boss: the only module that knows pg-boss exists.
 * Starts pg-boss, migrates our schema after it, and listens for wake-ups.
 */
export async function createQueue(options: QueueOptions) {
  const { config, db, log } = options
  const tasks = new Map(options.tasks.map((task) => [task.kind, task]))
  // pg-boss's own statements are maintenance (supervision, queue upkeep): they never widen the pool.
  const boss: PgBoss = await startBoss({ executeSql: db.pool.background.query, config, tasks: options.tasks, log, supervise: options.supervise ?? true })
  const migration = await migrateToLatest(db.db)
  if (migration.error) {
    await boss.stop({ graceful: false }).catch(() => {})
    throw coerceError(migration.error)
  }
  const listener: Listener =
    options.listen === false ? createPollingListener() : createListener({ url: options.url, channels: Object.values(CHANNELS), log })
  const progress = createProgressWriter(db.pool, log)
  const fallback = createFallback({
    tasks,
    deps: options.deps,
    timeoutSeconds: config.jobTimeoutSeconds,
    resultTtlSeconds: config.resultTtlSeconds,
    log,
  })
  const lifecycle = { db: db.background, boss, tasks }
  // Operator reads tolerate a replica's lag; their writes (requeue, empty) go to the primary.
  const monitoring = createMonitoring(db.read.db, lifecycle)
  const metrics = createMetrics({
    snapshot: async () => ({
      depth: await monitoring.queueStats(),
      liveWorkers: await monitoring.liveWorkerCount(),
      replicaLagSeconds: db.replica ? await readReplicaLagSeconds(db.read.db) : undefined,
    }),
    connections: () => ({ refusals: db.refusals(), pools: db.poolCounts() }),
  })
  const countEnqueued = <T>(kinds: string[], ids: T): T => {
    for (const kind of kinds) metrics.enqueued(kind)
    return ids
  }
  const workers: Worker[] = []
  let cleanupTimer: NodeJS.Timeout | undefined
  let webhookDelivery: WebhookDelivery | undefined

  async function settleDependents(jobId: string, outcome: 'finished' | 'ended') {
    try {
      if (outcome === 'finished') {
        // Unblock now rather than at pg-boss's next flow pass, then wake the workers of the dependents.
        await boss.resolveFlow()
        await sql`SELECT pg_notify(${CHANNELS.jobs}, kind) FROM housler._tasks WHERE depends_on @> ARRAY[${jobId}]::uuid[]`.execute(db.db)
      } else {
        const row = await findJob(db.db, jobId)
        await cancelDependents(lifecycle, jobId, row?.status ?? 'ended')
      }
    } catch (e) {
      log.warn({ err: coerceError(e).message, job_id: jobId }, 'could not settle dependents; the cleanup pass will')
    }
  }

  const statsCache = createStatsCache(() => computeStats(db.read.db, [...tasks.keys()]))
  const groupCommit = createGroupCommit({ write: (requests: EnqueueRequest[]) => enqueueMany({ db: db.db, boss, tasks, pool: db.pool }, requests) })

  const queue = {
    boss,
    listener,
    tasks,
    kinds: [...tasks.keys()],
    /** Prometheus registry of this process (prom-client). */
    metrics,
    /** Reads of the operator views, bulk requeue and empty (dashboard, CLI). */
    monitoring,
    /** Validates and enqueues one job. Throws AppError('ValidationFailed') on a bad payload. */
    async enqueue(request: EnqueueRequest): Promise<string> {
      // Concurrent plain enqueues share one transaction (group commit); keyed ones go alone, so
      // two requests with one key never race inside a group.
      const task = findTask(tasks, request.kind)
      const grouped = !request.idempotency && !task.dedupeKey
      if (grouped) validatePayload(task, request.payload)
      const jobId = grouped ? await groupCommit.add(request) : (await enqueueMany({ db: db.db, boss, tasks }, [request]))[0]
      metrics.enqueued(request.kind)
      return jobId
    },
    /** Group-commit counters: groups written and requests in them. */
    groupCommitStats: () => groupCommit.stats(),
    /** Like enqueue, but says whether an existing job answered (Idempotency-Key or the kind's dedupeKey). */
    enqueueWithOutcome: (request: EnqueueRequest) =>
      enqueueWithOutcome({ db: db.db, boss, tasks }, [request]).then(([outcome]) => {
        // A replay answered by an existing job enqueued nothing.
        if (!outcome.reused) metrics.enqueued(request.kind)
        return outcome
      }),
    enqueueMany: (requests: EnqueueRequest[]) =>
      enqueueMany({ db: db.db, boss, tasks, pool: db.pool }, requests).then((ids) => countEnqueued(requests.map((r) => r.kind), ids)),
    enqueueFlow: (steps: FlowStep[]) =>
      enqueueFlow({ db: db.db, boss, tasks }, steps).then((ids) => countEnqueued(steps.map((step) => step.kind), ids)),
    /** Validates a payload and runs the kind's admission checks; throws AppError (4xx) to refuse. */
    validate(kind: string, payload: unknown): unknown {
      const task = findTask(tasks, kind)
      const valid = validatePayload(task, payload)
      task.admit?.(valid, options.deps)
      return valid
    },
    /**
     * Status body by job id; throws JobNotFound / JobExpired. Fallback jobs are found in memory.
     * Read from the replica when there is one; a job it does not have yet (enqueued a moment ago,
     * replica behind) is read from the primary, so a client never gets 404 for the id it was given.
     * `primary`: skip the replica (a push stream re-reading after a change it was told of).
     */
    async getStatus(jobId: string, read: { primary?: boolean } = {}): Promise<StatusBody & { webhook?: WebhookState }> {
      const inline = fallback.find(jobId)
      if (inline) return inline
      const fromReplica = db.replica && !read.primary ? await findJobStatus(db.read.pool, jobId) : undefined
      const row = assertLive(fromReplica ?? (await findJobStatus(db.pool, jobId)), jobId)
      const body: StatusBody & { webhook?: WebhookState } = jobToStatusBody(row as JobRow & { status: Status })
      const webhook = webhookStateFromRow(row)
      if (webhook) body.webhook = webhook
      return body
    },
    findRow: (jobId: string) => findJob(db.db, jobId),
    stats: (): Promise<QueueStats> => computeStats(db.db, [...tasks.keys()]),
    /** True when status reads may come from a lagging replica (DATABASE_READ_URL). */
    readsReplica: db.replica,
    /** Seconds the replica trails the primary (undefined without one, null if the read server is no replica). */
    replicaLagSeconds: async (): Promise<number | null | undefined> => (db.replica ? readReplicaLagSeconds(db.read.db) : undefined),
    /** Counts for GET /queue-stats: a snapshot at most ~1 s old (a count per request scans every retained job). */
    cachedStats: (): Promise<QueueStats> => statsCache.get(),
    cancel: (jobId: string) =>
      cancelJob(lifecycle, jobId).then((row) => {
        metrics.canceled(row.kind)
        return jobToStatusBody(row as JobRow & { status: Status })
      }),
    requeue: (jobId: string) => requeueJob(lifecycle, jobId).then((row) => jobToStatusBody(row as JobRow & { status: Status })),
    delete: (jobId: string) => deleteJob(lifecycle, jobId),
    cleanup: () => runCleanup(lifecycle, config),
    /** Runs a task inside the request when the database is unreachable (SYNC_FALLBACK). */
    runInline: fallback.run,
    isUnreachable: isDatabaseUnreachable,
    /** The server refused a session (53300, 57P03): it is up, so retry later; never run inline. */
    isBusy: isConnectionRefusal,
    async ping(): Promise<{ database: boolean; pgBossSchemaVersion: number | null; pendingMigrations: string[] }> {
      const [version, pending] = await Promise.all([boss.schemaVersion(), pendingMigrations(db.db)])
      return { database: true, pgBossSchemaVersion: version, pendingMigrations: pending }
    },
    /** Starts consuming jobs in this process. */
    startWorker(workerOptions: { kinds?: readonly string[]; concurrency?: number; events?: WorkerEvents } = {}): Worker {
      const kinds = workerOptions.kinds?.length ? workerOptions.kinds : [...tasks.keys()]
      // Worker processes deliver webhooks; one loop per process however many workers it runs.
      webhookDelivery ??= startWebhookDelivery({ db: db.background, config, log })
      const worker = createWorker({
        boss,
        db: db.db,
        pool: db.pool,
        listener,
        progress,
        tasks,
        kinds: kinds.filter((kind) => tasks.has(kind)),
        concurrency: workerOptions.concurrency ?? config.workerConcurrency,
        pollIntervalMs: config.workerPollIntervalMs,
        heartbeatSeconds: config.heartbeatSeconds,
        defaultTimeoutSeconds: config.jobTimeoutSeconds,
        graceSeconds: config.shutdownGraceSeconds,
        deps: options.deps,
        log,
        events: metrics.jobEvents(workerOptions.events),
        settleDependents,
      })
      const registered = withRegistry(worker, {
        db: db.background,
        kinds,
        concurrency: workerOptions.concurrency ?? config.workerConcurrency,
        heartbeatSeconds: config.workerHeartbeatSeconds,
        log,
      })
      workers.push(registered)
      return registered
    },
    /** Runs the TTL cleanup every CLEANUP_INTERVAL_SECONDS in this process. */
    startCleanup(): void {
      const tick = () =>
        runCleanup(lifecycle, config).catch((e) => log.warn({ err: coerceError(e).message }, 'cleanup pass failed'))
      cleanupTimer = setInterval(tick, config.cleanupIntervalSeconds * 1000)
      cleanupTimer.unref()
      void tick()
    },
    async stop(): Promise<void> {
      if (cleanupTimer) clearInterval(cleanupTimer)
      await Promise.all(workers.map((worker) => worker.stop()))
      await webhookDelivery?.stop()
      await progress.flush()
      await listener.close()
      await boss.stop({ graceful: false, close: true, timeout: 1000 }).catch(() => {})
    },
  }
  return queue
}

export type Queue = Awaited<ReturnType<typeof createQueue>>
