import { sql } from 'kysely'
import type { PgBoss } from 'pg-boss'
import type { Config } from '../config.ts'
import { AppError, coerceError, isConnectionRefusal, isDatabaseUnreachable } from '../errors.ts'
import type { Db } from '../db/index.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics/index.ts'
import type { TaskDefinition } from '../tasks/types.ts'
import { webhookStateFromRow, type WebhookState, type WebhookStateRow } from '../webhooks/index.ts'
import { type BossOptions, startBoss } from './boss.ts'
import { enqueueFlow, prepareJob, writeJobs, type EnqueueOutcome, type EnqueueRequest, type FlowStep, type PreparedJob } from './enqueue.ts'
import { createFallback } from './fallback.ts'
import { createGroupCommit } from './group-commit.ts'
import {
  assertLive,
  cancelDependents,
  cancelJob,
  deleteJob,
  emptyQueue,
  findJob,
  findJobStatus,
  requeueFailed,
  requeueJob,
  runCleanup,
  type LifecycleDeps,
} from './lifecycle.ts'
import { CHANNELS, createListener, createPollingListener, type Listener } from './listener.ts'
import { createMonitoring, type Monitoring } from './monitoring.ts'
import { createProgressWriter } from './progress.ts'
import { jobToStatusBody, TERMINAL_STATUSES, type JobRow, type Status, type StatusBody } from './status.ts'
import { createStatusCache, type RenderedStatus } from './status-cache.ts'
import { createWorker, type Worker, type WorkerEvents } from './worker.ts'
import { withRegistry } from './worker-registry.ts'
import { cancelChildren, countChildren, createChildJobs, type ChildCounts } from './children.ts'
import type { ProxyHealth } from '../fetch/index.ts'

export { STATUSES, PRIORITIES, TERMINAL_STATUSES, jobToStatusBody } from './status.ts'
export type { Status, StatusBody, Priority, JobRow } from './status.ts'
export type { RenderedStatus } from './status-cache.ts'
export type { EnqueueRequest, EnqueueOutcome, FlowStep } from './enqueue.ts'
export { hashRequest, type IdempotencyClaim } from './idempotency.ts'
export type { QueueStats } from './stats.ts'
export type { Worker, WorkerEvents, ActiveJob } from './worker.ts'
export type { Monitoring, GroupCommitCounts } from './monitoring.ts'
export {
  readSchemaState,
  type WorkerRow,
  type QueueStatRow,
  type ThroughputRow,
  type FailedJobRow,
  type JobIndexRow,
  type ProxyHealthRow,
} from './monitoring.ts'

/** What an enqueue answers: the job, whether an existing one answered, and its real status. */
export type Enqueued = EnqueueOutcome & {
  status: Status
  /** SYNC_FALLBACK: the database was unreachable and the task ran in this request; its final status. */
  fallback?: StatusBody
}

/** A status body, with its webhook delivery when the job has one. */
export type JobStatus = StatusBody & { webhook?: WebhookState; children?: ChildCounts }

/** `primary`: skip a read replica (a push stream re-reading after a change the replica does not show yet). */
export type StatusRead = { primary?: boolean }

export type StartWorkerOptions = { kinds?: readonly string[]; concurrency?: number; events?: WorkerEvents }

/**
 * The RQ-compatible queue: all that HTTP, the CLI and the RESP adapter see. Errors are AppErrors
 * (ValidationFailed, JobNotFound, JobExpired, InvalidState, Conflict, QueueUnavailable).
 */
export interface Queue {
  /** Task kinds this queue runs. */
  readonly kinds: readonly string[]
  /** A kind's job timeout in seconds (its own, else RQ_JOB_TIMEOUT): RQ's job.timeout. */
  timeoutSeconds(kind: string): number
  /** Parses and admits the payload (once), then enqueues; a repeat of an Idempotency-Key or dedupeKey answers the existing job. */
  enqueue(request: EnqueueRequest): Promise<Enqueued>
  /** RQ's enqueue_many: every job or none, in one transaction. */
  enqueueMany(requests: EnqueueRequest[]): Promise<EnqueueOutcome[]>
  /** A graph of jobs (RQ depends_on); a step is `deferred` until its parents finished. Job ids by ref. */
  enqueueFlow(steps: FlowStep[]): Promise<Record<string, string>>
  /** The guide's status body (with `error_code` beside `error`); throws JobNotFound / JobExpired. From the replica when there is one, else (or when it lacks the job) the primary. */
  getStatus(jobId: string, read?: StatusRead): Promise<JobStatus>
  /** getStatus with the body's JSON bytes, rendered once (the status route sends them as they are; ended jobs come from an in-process cache). */
  getStatusJson(jobId: string, read?: StatusRead): Promise<RenderedStatus<JobStatus>>
  cancel(jobId: string): Promise<StatusBody>
  /** RQ's requeue: a failed or canceled job runs again with a fresh retry budget. */
  requeue(jobId: string): Promise<StatusBody>
  /** Requeues every failed job (of one kind, or all); their ids. */
  requeueFailed(kind?: string): Promise<string[]>
  /** Deletes a job that is not running; its id then answers "expired". */
  remove(jobId: string): Promise<void>
  /** RQ's empty: deletes every waiting (queued, scheduled, deferred) job of a kind; how many. */
  emptyQueue(kind: string): Promise<number>
  /** Calls `handler` with a job id whenever its status may have changed; null: notifications may have been lost (or there is no LISTEN and this is the poll tick), re-read all. */
  onStatusChange(handler: (jobId: string | null) => void): void
  /** Starts consuming jobs in this process. */
  startWorker(options?: StartWorkerOptions): Worker
  /** Stops the workers started here (each finishes its running jobs within the grace period). */
  stop(): Promise<void>
  readonly monitoring: Monitoring
}

/** pg-boss and the LISTEN connection, started before our migrations and closed after the queue stops. */
export type QueueBackend = { readonly boss: PgBoss; readonly listener: Listener; close(): Promise<void> }

export async function startQueueBackend(options: BossOptions & {
  /** pg-boss runs its SQL on this pool's background lane: it opens no pool of its own and never widens ours. */
  db: Db
  /** A direct session for LISTEN (never through a transaction pooler); undefined: no LISTEN, workers and push streams poll. */
  listenUrl: string | undefined
}): Promise<QueueBackend> {
  const { db, listenUrl, ...bossOptions } = options
  const boss = await startBoss({ ...bossOptions, executeSql: db.pool.background.query })
  const listener = listenUrl === undefined ? createPollingListener() : createListener({ url: listenUrl, channels: Object.values(CHANNELS), log: options.log })
  return {
    boss,
    listener,
    async close() {
      await listener.close()
      await boss.stop({ graceful: false, close: true, timeout: 1000 }).catch(() => {})
    },
  }
}

/** The task services' fetcher reports its proxies' health; the runtime and queue publish it (metrics, heartbeat). */
export function proxyHealthOf(deps: Record<string, unknown>): (() => readonly ProxyHealth[]) | undefined {
  const fetcher = deps.fetcher as { proxyHealth?: () => readonly ProxyHealth[] } | undefined
  return typeof fetcher?.proxyHealth === 'function' ? () => fetcher.proxyHealth!() : undefined
}

export type QueueOptions = {
  config: Config
  db: Db
  backend: QueueBackend
  tasks: readonly TaskDefinition[]
  /** Services handed to task handlers and admission checks (fetcher, stores, …). */
  deps: Record<string, unknown>
  metrics: Metrics
  log: Logger
  /** Called when this process starts its first worker (the runtime starts webhook delivery). */
  onFirstWorker?: () => void
}

/** The Queue, plus the TTL cleanup only the composition root schedules. */
export type QueueService = { queue: Queue; cleanup(): Promise<{ expired: number; orphansCanceled: number }> }

export function createQueue(options: QueueOptions): QueueService {
  const { config, db, log, metrics } = options
  const { boss, listener } = options.backend
  const tasks: ReadonlyMap<string, TaskDefinition> = new Map(options.tasks.map((task) => [task.kind, task]))
  const kinds = Object.freeze([...tasks.keys()])
  // Cancels, requeues and cleanup wait for an open connection rather than widening the pool.
  const lifecycle: LifecycleDeps = { db: db.background, boss, tasks }
  const workers: Worker[] = []
  // Claim on enqueue (worker.ts offerClaim): the first of this process's workers with a slot for the kind.
  const offerClaim = (kind: string) => {
    for (const worker of workers) {
      const offer = worker.offerClaim(kind)
      if (offer) return offer
    }
    return undefined
  }
  const writer = { db: db.db, boss, pool: db.pool, offerClaim }
  const progress = createProgressWriter(db.pool, log)
  const fallback = createFallback({ deps: options.deps, timeoutSeconds: config.jobTimeoutSeconds, resultTtlSeconds: config.resultTtlSeconds, log })
  // Concurrent plain enqueues share one statement (group commit); keyed ones go alone, so two
  // requests with one key never race inside a group.
  const groupCommit = createGroupCommit({ write: (items: PreparedJob[]) => writeJobs(writer, items) })
  // Operator reads tolerate a replica's lag.
  const monitoring = createMonitoring({ primary: db.db, read: db.read.db, replica: db.replica }, kinds, () => groupCommit.stats())
  const pollTimers: NodeJS.Timeout[] = []
  const prepare = (request: EnqueueRequest) => prepareJob(tasks, options.deps, request)
  const cancelChild = (jobId: string, reason: string) => cancelJob(lifecycle, jobId, reason)
  // Handlers in workers may run child jobs (find-similar's analog pages); the inline fallback may not.
  const workerDeps = {
    ...options.deps,
    children: createChildJobs({
      db: db.db,
      enqueue: async (requests) => (await writeJobs(writer, requests.map(prepare))).map((outcome) => outcome.jobId),
      cancel: cancelChild,
      listener,
      log,
    }),
  }
  const proxyHealth = proxyHealthOf(options.deps)

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

  async function statusOf(outcome: EnqueueOutcome, item: PreparedJob): Promise<Status> {
    if (outcome.reused) return (await queue.getStatus(outcome.jobId)).status
    return item.request.runAt && item.request.runAt.getTime() > Date.now() ? 'scheduled' : 'queued'
  }

  async function runInline(item: PreparedJob): Promise<Enqueued> {
    if (!config.syncFallback) {
      throw new AppError('QueueUnavailable', 'Queue database unreachable and SYNC_FALLBACK is off; try again shortly', {
        details: { fallback: false },
      })
    }
    // The guide's synchronous fallback: the task runs now and the answer is its final status.
    const body = await fallback.run(item)
    return { jobId: body.job_id, reused: false, status: body.status, fallback: body }
  }

  const statusCache = createStatusCache<JobStatus>(listener, CHANNELS.status)

  async function renderStatus(row: JobRow & WebhookStateRow): Promise<RenderedStatus<JobStatus>> {
    const body: JobStatus = jobToStatusBody(row as JobRow & { status: Status })
    const webhook = webhookStateFromRow(row)
    if (webhook) body.webhook = webhook
    if (tasks.get(body.kind)?.spawnsChildren) {
      const children = await countChildren(db.db, row.id)
      if (children) body.children = children
    }
    return { body, json: Buffer.from(JSON.stringify(body)) }
  }

  /** When the TTL cleanup may delete an ended job whose body nothing else changes (no webhook deliveries, no children); else undefined. */
  function cacheableUntil(body: JobStatus): number | undefined {
    if (!TERMINAL_STATUSES.has(body.status) || body.ended_at === null || body.webhook || body.children || tasks.get(body.kind)?.spawnsChildren) return undefined
    const ttlSeconds = body.status === 'finished' ? config.resultTtlSeconds : config.failureTtlSeconds
    return Date.parse(body.ended_at) + ttlSeconds * 1000
  }

  async function readStatus(jobId: string, read: StatusRead = {}): Promise<RenderedStatus<JobStatus>> {
    const inline = fallback.find(jobId)
    if (inline) return { body: inline, json: Buffer.from(JSON.stringify(inline)) }
    const cached = await statusCache.get(jobId)
    if (cached) return cached
    // A job the replica does not have yet (enqueued a moment ago, replica behind) is read from the
    // primary, so a client never gets 404 for the id it was given. Only primary reads fill the cache:
    // a lagging replica could show a body older than an eviction already received.
    const fromReplica = db.replica && !read.primary ? await findJobStatus(db.read.pool, jobId) : undefined
    if (fromReplica) return renderStatus(assertLive(fromReplica, jobId))
    const reading = statusCache.begin(jobId)
    let keep: Parameters<typeof reading.done>[0]
    try {
      const rendered = await renderStatus(assertLive(await findJobStatus(db.pool, jobId), jobId))
      const expiresAt = cacheableUntil(rendered.body)
      if (expiresAt !== undefined) keep = { rendered, expiresAt }
      return rendered
    } finally {
      reading.done(keep)
    }
  }

  /**
   * A write that failed for a lost session (ended by an administrator, a pooler, a restart) or an
   * unreachable server: a new connection tells which. The server refuses it (busy: thrown, so 503)
   * or cannot be reached (undefined: the synchronous fallback); else the job is there (it committed
   * before the session ended) or is written again, once.
   */
  async function settleLostEnqueue(item: PreparedJob): Promise<EnqueueOutcome | undefined> {
    try {
      await db.pool.probe()
    } catch (e) {
      if (isConnectionRefusal(e) || !isDatabaseUnreachable(e)) throw e
      return undefined
    }
    const stored = (await findJob(db.db, item.jobId)) !== undefined
    return stored ? { jobId: item.jobId, reused: false } : (await writeJobs(writer, [item]))[0]
  }

  const queue: Queue = {
    kinds,
    monitoring,
    timeoutSeconds: (kind) => tasks.get(kind)?.timeoutSeconds ?? config.jobTimeoutSeconds,
    async enqueue(request) {
      const item = prepare(request)
      let outcome: EnqueueOutcome
      try {
        const grouped = !item.request.idempotency && !item.task.dedupeKey
        outcome = grouped ? await groupCommit.add(item) : (await writeJobs(writer, [item]))[0]
      } catch (e) {
        // Up but refusing sessions (53300, 57P03): the job is not stored, and running it here would
        // only add load; the HTTP layer answers DatabaseBusy (503 + Retry-After).
        if (isConnectionRefusal(e) || !isDatabaseUnreachable(e)) throw e
        const settled = await settleLostEnqueue(item)
        if (!settled) {
          log.warn({ err: coerceError(e).message, code: (e as { code?: unknown }).code }, 'enqueue failed: queue database unreachable')
          return runInline(item)
        }
        outcome = settled
      }
      // A replay answered by an existing job enqueued nothing.
      if (!outcome.reused) metrics.enqueued(request.kind)
      return { ...outcome, status: await statusOf(outcome, item) }
    },
    async enqueueMany(requests) {
      const outcomes = await writeJobs(writer, requests.map(prepare))
      outcomes.forEach((outcome, i) => outcome.reused || metrics.enqueued(requests[i].kind))
      return outcomes
    },
    async enqueueFlow(steps) {
      const ids = await enqueueFlow(writer, prepare, steps)
      for (const step of steps) metrics.enqueued(step.kind)
      return ids
    },
    getStatus: (jobId, read) => readStatus(jobId, read).then((rendered) => rendered.body),
    getStatusJson: (jobId, read) => readStatus(jobId, read),
    async cancel(jobId) {
      const row = await cancelJob(lifecycle, jobId)
      await cancelChildren({ db: db.db, cancel: cancelChild }, jobId)
      metrics.canceled(row.kind)
      return jobToStatusBody(row as JobRow & { status: Status })
    },
    requeue: (jobId) => requeueJob(lifecycle, jobId).then((row) => jobToStatusBody(row as JobRow & { status: Status })),
    requeueFailed: (kind) => requeueFailed(lifecycle, kind),
    remove: (jobId) => deleteJob(lifecycle, jobId),
    emptyQueue: (kind) => emptyQueue(lifecycle, kind),
    onStatusChange(handler) {
      listener.on(CHANNELS.status, handler)
      listener.onReconnect(() => handler(null))
      // Without LISTEN (transaction pooler, no DATABASE_LISTEN_URL) nothing is told: re-read on a timer.
      if (!listener.listening) {
        const timer = setInterval(() => handler(null), config.workerPollIntervalMs)
        timer.unref()
        pollTimers.push(timer)
      }
    },
    startWorker(workerOptions = {}) {
      const workerKinds = workerOptions.kinds?.length ? workerOptions.kinds : kinds
      if (workers.length === 0) options.onFirstWorker?.()
      const concurrency = workerOptions.concurrency ?? config.workerConcurrency
      const worker = createWorker({
        boss,
        db: db.db,
        pool: db.pool,
        listener,
        progress,
        tasks,
        kinds: workerKinds.filter((kind) => tasks.has(kind)),
        concurrency,
        pollIntervalMs: config.workerPollIntervalMs,
        heartbeatSeconds: config.heartbeatSeconds,
        defaultTimeoutSeconds: config.jobTimeoutSeconds,
        graceSeconds: config.shutdownGraceSeconds,
        deps: workerDeps,
        log,
        events: metrics.jobEvents(workerOptions.events),
        settleDependents,
      })
      // Heartbeats are background work: they never widen the pool.
      const registered = withRegistry(worker, { db: db.background, kinds: workerKinds, concurrency, heartbeatSeconds: config.workerHeartbeatSeconds, log, proxyHealth })
      workers.push(registered)
      return registered
    },
    async stop() {
      for (const timer of pollTimers) clearInterval(timer)
      await Promise.all(workers.map((worker) => worker.stop()))
      await progress.flush()
    },
  }
  return { queue, cleanup: () => runCleanup(lifecycle, config) }
}
