import os from 'node:os'
import { sql, type Kysely } from 'kysely'
import { fromKysely, type Job, type JobWithMetadata, type PgBoss } from 'pg-boss'
import { AppError, coerceError, isPermanentFailure } from '../errors.ts'
import { retryWhileUnavailable, type Database } from '../db/index.ts'
import type { Logger } from '../log.ts'
import type { TaskContext, TaskDefinition } from '../tasks/types.ts'
import { CHANNELS, type Listener } from './listener.ts'
import type { ProgressWriter } from './progress.ts'
import { claimWithoutFlush } from './pg-boss-internals.ts'
import { createPreparedAdapter } from './prepared.ts'
import { createCompleter } from './completer.ts'
import type pg from 'pg'

export type JobData = { payload: unknown; sessionId: string | null; dependsOn: string[]; hasDependents: boolean; permanentError?: SerializedError }
type SerializedError = { message: string; stack?: string; code?: string; name?: string; attempt?: number }

export type WorkerEvents = {
  /** waitMs: enqueue → this claim, from pg-boss's createdOn. */
  onJobStart?(job: { id: string; kind: string; attempt: number; waitMs?: number }): void
  onJobEnd?(job: { id: string; kind: string; attempt: number; outcome: 'finished' | 'failed' | 'retry' | 'canceled'; runMs: number }): void
  /** Called after a job ends in a terminal state (finished, failed for good, canceled): webhooks etc. */
  onTerminal?(jobId: string): void
}

export type WorkerOptions = {
  boss: PgBoss
  db: Kysely<Database>
  /** Runs pg-boss's fetch/complete/touch as prepared statements; without it they go through pg-boss's pool. */
  pool?: pg.Pool
  listener: Listener
  progress: ProgressWriter
  tasks: ReadonlyMap<string, TaskDefinition>
  kinds: readonly string[]
  concurrency: number
  pollIntervalMs: number
  heartbeatSeconds: number
  defaultTimeoutSeconds: number
  graceSeconds: number
  deps: Record<string, unknown>
  log: Logger
  events?: WorkerEvents
  /** After a parent finishes or fails: unblock or end its dependents. */
  settleDependents(jobId: string, outcome: 'finished' | 'ended'): Promise<void>
}

export type ActiveJob = { id: string; kind: string; attempt: number; startedAt: Date }

/** A job as the worker runs it: pg-boss's fetch answers these fields, and so does a claim on enqueue. */
export type ClaimedJob = Pick<JobWithMetadata<JobData>, 'id' | 'name' | 'data' | 'retryCount'> & Partial<Pick<JobWithMetadata<JobData>, 'createdOn' | 'retryLimit'>>

/** A free slot of an idle worker, lent to an enqueue in this process (claim on enqueue, Worker.offerClaim). */
export type ClaimOffer = {
  /** The enqueue committed the job already claimed (active) for this worker: it starts here. */
  take(job: ClaimedJob): void
  /** The enqueue went without it (failed, or answered by an existing job): the slot is free again. */
  withdraw(): void
}

export type Worker = {
  readonly id: string
  active(): ActiveJob[]
  counts(): { finished: number; failed: number }
  /** Aborts a running job's handler (cancellation); false if this process is not running it. */
  abort(jobId: string, reason: Error): boolean
  /**
   * Claim on enqueue: while this worker has a slot free and found `kind` empty, an enqueue in this
   * process may write its job already claimed and hand it over here, saving the wake-up and the
   * claim's round trip and commit. undefined when busy with the kind or stopping.
   */
  offerClaim(kind: string): ClaimOffer | undefined
  /** Stops fetching, waits up to the grace period for running jobs, then aborts the rest. */
  stop(): Promise<void>
}

function serializeError(error: Error): SerializedError {
  const code = error instanceof AppError ? error.code : (error as { code?: unknown }).code
  return {
    message: error.message,
    stack: error.stack,
    name: error.name,
    ...(typeof code === 'string' ? { code } : {}),
  }
}

/**
 * The consumption loop. pg-boss's work() sleeps its polling interval between fetches of a slot,
 * so a backlog of one-job tasks drains at (slots / interval) jobs per second. Instead: every free
 * slot is refilled at once while the last fetch of a kind came back full (there may be more), and a
 * kind is only considered empty when a fetch returned fewer jobs than asked for. Empty kinds wake on
 * NOTIFY (a new job), on a local job ending (it may have unblocked dependents) or on the poll timer
 * (retries and scheduled jobs becoming due).
 */
export function createWorker(options: WorkerOptions): Worker {
  const { boss, log } = options
  const id = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  const running = new Map<string, { job: ActiveJob; controller: AbortController; done: Promise<void> }>()
  // Jobs whose handler is over but whose outcome is still being written (they no longer hold a slot).
  const settling = new Set<Promise<void>>()
  const emptyKinds = new Set<string>()
  // Slots lent to enqueues (offerClaim), each until its job is taken or the offer withdrawn.
  let lent = 0
  const claiming = new Set<Promise<void>>()
  const counts = { finished: 0, failed: 0 }
  let stopping = false
  let pumping = false
  let pumpIdle: Promise<void> = Promise.resolve()
  let pumpAgain = false
  let kindCursor = 0
  const prepared = options.pool ? createPreparedAdapter(options.pool) : undefined
  const sqlDb = prepared ? { db: prepared } : {}
  // Claims commit without waiting for their flush (pg-boss-internals.ts claimWithoutFlush): one fsync less per pickup.
  const claimDb = options.pool ? { db: createPreparedAdapter(options.pool, { rewrite: claimWithoutFlush }) } : {}
  const completer = prepared ? createCompleter({ boss, db: prepared }) : undefined

  async function pump(): Promise<void> {
    if (pumping) {
      pumpAgain = true
      return
    }
    pumping = true
    let idle = () => {}
    pumpIdle = new Promise((resolve) => (idle = resolve))
    try {
      do {
        pumpAgain = false
        const kinds = options.kinds
        for (let i = 0; i < kinds.length; i++) {
          const kind = kinds[(kindCursor + i) % kinds.length]
          const free = options.concurrency - running.size - lent
          if (free <= 0 || stopping) break
          if (emptyKinds.has(kind)) continue
          // Metadata adds createdOn (for the wait-time histogram) to the RETURNING list; no extra query.
          const jobs = await boss.fetch<JobData>(kind, { batchSize: free, includeMetadata: true, ...claimDb })
          // Only an empty answer proves the kind empty: a short one may just mean another process's
          // concurrent claim held some rows (SKIP LOCKED), so look again at once.
          if (jobs.length === 0) emptyKinds.add(kind)
          else if (jobs.length < free) pumpAgain = true
          for (const job of jobs) start(job)
        }
        kindCursor = (kindCursor + 1) % Math.max(1, kinds.length)
      } while (pumpAgain && !stopping && running.size + lent < options.concurrency)
    } catch (e) {
      log.warn({ err: coerceError(e).message }, 'fetch failed; retrying on the next poll')
    } finally {
      pumping = false
      idle()
    }
  }

  // Slots freed in one event-loop turn (a group of completions) are refilled by one fetch at its end.
  let refillScheduled = false
  function refill(): void {
    if (refillScheduled || stopping) return
    refillScheduled = true
    setImmediate(() => {
      refillScheduled = false
      if (!stopping) void pump()
    })
  }

  function wake(kind?: string): void {
    if (stopping) return
    if (kind === undefined) emptyKinds.clear()
    else emptyKinds.delete(kind)
    void pump()
  }

  function offerClaim(kind: string): ClaimOffer | undefined {
    // A kind only counts as empty between fetches: with one in flight, a new job may be its to take.
    if (stopping || pumping || !emptyKinds.has(kind) || !options.kinds.includes(kind) || running.size + lent >= options.concurrency) return undefined
    lent++
    let settle = () => {}
    const settled = new Promise<void>((resolve) => (settle = resolve))
    claiming.add(settled)
    let returned = false
    const giveBack = () => {
      if (returned) return
      returned = true
      lent--
      claiming.delete(settled)
      settle()
    }
    return {
      take(job) {
        // After the enqueue's caller has its answer (an HTTP reply goes out first), not inside it.
        setImmediate(() => {
          giveBack()
          start(job)
        })
      },
      withdraw: giveBack,
    }
  }

  function start(job: ClaimedJob): void {
    const task = options.tasks.get(job.name)!
    const controller = new AbortController()
    const active: ActiveJob = { id: job.id, kind: job.name, attempt: job.retryCount + 1, startedAt: new Date() }
    // The slot is freed as soon as the handler is over, not when its completion has committed: the
    // next job is fetched while the outcome is written (completions are grouped, see completer.ts).
    let released = false
    const release = () => {
      if (released) return
      released = true
      running.delete(job.id)
      refill()
    }
    // In the map before run() starts: a job that fails before its first await releases at once.
    const entry = { job: active, controller, done: Promise.resolve() }
    running.set(job.id, entry)
    const done = run(job, task, active, controller, release).finally(release)
    entry.done = done
    settling.add(done)
    void done.finally(() => settling.delete(done))
  }

  async function loadParents(dependsOn: string[]): Promise<TaskContext['parents']> {
    if (dependsOn.length === 0) return []
    const rows = await options.db
      .selectFrom(sql<{ id: string; kind: string; result: unknown }>`housler.jobs`.as('j'))
      .select(['j.id', 'j.kind', 'j.result'])
      .where('j.id', 'in', dependsOn)
      .execute()
    const byId = new Map(rows.map((row) => [row.id, row]))
    return dependsOn.map((parentId) => ({
      jobId: parentId,
      kind: byId.get(parentId)?.kind ?? 'unknown',
      result: byId.get(parentId)?.result ?? null,
    }))
  }

  async function run(job: ClaimedJob, task: TaskDefinition, active: ActiveJob, controller: AbortController, release: () => void) {
    const attemptRef = { id: job.id, retryCount: job.retryCount }
    // Built on first use, after the handler has started: most jobs only ever log their end.
    let childLog: Logger | undefined
    const jobLog = () => (childLog ??= log.child({ job_id: job.id, kind: job.name, session_id: job.data.sessionId, attempt: active.attempt }))
    const timeoutSeconds = task.timeoutSeconds ?? options.defaultTimeoutSeconds
    const startedMs = performance.now()
    let timeout: NodeJS.Timeout | undefined
    let heartbeat: NodeJS.Timeout | undefined
    // The start event, timeout and heartbeat are set up right after the handler is called, off the
    // pickup path; nothing can be missed in between, as the handler has not yielded yet.
    let startReported = false
    const reportStart = () => {
      if (startReported) return
      startReported = true
      options.events?.onJobStart?.({ ...active, waitMs: job.createdOn ? Date.now() - new Date(job.createdOn).getTime() : undefined })
    }
    const armJob = () => {
      reportStart()
      timeout = setTimeout(
        () => controller.abort(new AppError('JobTimeout', `Job exceeded its timeout of ${timeoutSeconds} s`)),
        timeoutSeconds * 1000,
      )
      // Heartbeats keep pg-boss from failing a live job; a touch that finds no claim means the job was
      // canceled, expired or taken over, so the handler is told to stop.
      heartbeat = setInterval(
        () => {
          boss.touch(job.name, attemptRef, sqlDb).then(
            (response) => {
              if ((response as { affected?: number }).affected === 0) {
                controller.abort(new AppError('JobCanceled', 'Job is no longer claimed by this worker (canceled or expired)'))
              }
            },
            (e) => jobLog().warn({ err: coerceError(e).message }, 'heartbeat failed'),
          )
        },
        Math.max(1000, (options.heartbeatSeconds * 1000) / 2),
      )
    }
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
    })
    aborted.catch(() => {})

    try {
      if (job.data.permanentError) throw Object.assign(new AppError('PermanentTaskFailure', job.data.permanentError.message), { stack: job.data.permanentError.stack, settled: true })
      // A retry resets what the previous attempt reported; a first attempt's row still holds its
      // initial 0 / no message, so push subscribers only need to hear that it started.
      if (job.retryCount > 0) void options.progress.write(job.id, 0, null)
      else options.progress.notify(job.id)
      const ctx: TaskContext = {
        jobId: job.id,
        sessionId: job.data.sessionId,
        attempt: active.attempt,
        // Progress is coalesced and written in the background: a handler never waits for it.
        progress: (percent, message) => {
          void options.progress.write(job.id, percent, message)
          return Promise.resolve()
        },
        signal: controller.signal,
        get log() {
          return jobLog()
        },
        // No await (a turn of the microtask queue) for a job without parents.
        parents: job.data.dependsOn?.length ? await loadParents(job.data.dependsOn) : [],
        deps: options.deps,
      }
      const payload = task.payload.parse(job.data.payload)
      // Epoch milliseconds with their fraction: when the handler was called, to the microsecond (the bench's end-to-end pickup reads it).
      if (log.isLevelEnabled('debug')) jobLog().debug({ started_at_ms: performance.timeOrigin + performance.now() }, 'job started')
      let handled: Promise<unknown>
      try {
        handled = task.handler(payload, ctx)
      } finally {
        armJob()
      }
      const result = await Promise.race([handled, aborted])
      release()
      const output = toOutput(result)
      await retryWhileUnavailable(() => (completer ? completer.complete(job.name, attemptRef, output) : boss.complete(job.name, attemptRef, output)))
      counts.finished++
      if (log.isLevelEnabled('info')) jobLog().info({ run_ms: Math.round(performance.now() - startedMs) }, 'job finished')
      options.events?.onJobEnd?.({ ...active, outcome: 'finished', runMs: performance.now() - startedMs })
      options.progress.notify(job.id)
      if (job.data.hasDependents) await options.settleDependents(job.id, 'finished')
      options.events?.onTerminal?.(job.id)
    } catch (e) {
      release()
      // A job that failed before its handler ran (bad payload, a permanent failure's settling claim) still started.
      reportStart()
      const error = coerceError(e)
      const outcome = await settleFailure(job, task, active, error, jobLog())
      // A permanent failure's settling claim ran nothing: metrics counted the failure when it happened.
      if ((error as { settled?: boolean }).settled !== true) options.events?.onJobEnd?.({ ...active, outcome, runMs: performance.now() - startedMs })
      options.progress.notify(job.id)
      if (outcome !== 'retry') {
        if (job.data.hasDependents) await options.settleDependents(job.id, 'ended')
        options.events?.onTerminal?.(job.id)
      }
    } finally {
      clearTimeout(timeout)
      clearInterval(heartbeat)
    }
  }

  async function settleFailure(
    job: ClaimedJob,
    task: TaskDefinition,
    active: ActiveJob,
    error: Error,
    jobLog: Logger,
  ): Promise<'failed' | 'retry' | 'canceled'> {
    const attemptRef = { id: job.id, retryCount: job.retryCount }
    if (error instanceof AppError && error.code === 'JobCanceled') {
      jobLog.info({ reason: error.message }, 'job canceled while running')
      return 'canceled'
    }
    const serialized = serializeError(error)
    const permanent = isPermanentFailure(error)
    const settled = (error as { settled?: boolean }).settled === true
    // pg-boss's own limit, not the kind's: a requeue raises it, and the attempt after a requeue is not the last.
    const lastAttempt = job.retryCount >= (job.retryLimit ?? task.retry.maxAttempts - 1)
    try {
      if (permanent && !lastAttempt && !settled) {
        await failPermanently(job, { ...serialized, attempt: active.attempt })
      } else {
        await retryWhileUnavailable(() => boss.fail(job.name, attemptRef, serialized))
      }
    } catch (e) {
      jobLog.error({ err: coerceError(e).message }, 'could not record the failure; pg-boss expiry will retry the job')
    }
    const terminal = permanent || lastAttempt
    // The settling claim of a permanent failure ran nothing: the failure was counted and logged when it happened.
    if (settled) return 'failed'
    if (terminal) counts.failed++
    jobLog[terminal ? 'error' : 'warn'](
      { err: serialized.message, code: serialized.code, permanent, will_retry: !terminal },
      terminal ? 'job failed' : 'job failed; will retry',
    )
    return terminal ? 'failed' : 'retry'
  }

  /**
   * pg-boss's fail() always retries while attempts remain. For a failure no retry can fix, we record
   * it on our task row (the status reads `failed` at once), fail the pg-boss job, and make the next
   * claim of it settle to failed without running the handler — all in one transaction.
   */
  async function failPermanently(job: ClaimedJob, serialized: SerializedError): Promise<void> {
    await options.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('housler._tasks')
        .set({ permanent_error: JSON.stringify(serialized), updated_at: new Date() })
        .where('job_id', '=', job.id)
        .execute()
      const adapter = fromKysely(trx)
      await boss.fail(job.name, { id: job.id, retryCount: job.retryCount }, serialized, { db: adapter })
      await boss.update(job.name, { ...job.data, permanentError: serialized }, {
        id: job.id,
        startAfter: new Date(),
        retryLimit: job.retryCount + 1,
        db: adapter,
      })
      await sql`SELECT pg_notify(${CHANNELS.jobs}, ${job.name})`.execute(trx)
    })
  }

  options.listener.on(CHANNELS.jobs, (kind) => wake(kind))
  options.listener.on(CHANNELS.cancel, (jobId) => {
    running.get(jobId)?.controller.abort(new AppError('JobCanceled', 'Job was canceled'))
  })
  options.listener.onReconnect(() => wake())
  const pollTimer = setInterval(() => wake(), options.pollIntervalMs)
  wake()

  return {
    id,
    active: () => [...running.values()].map((entry) => entry.job),
    counts: () => ({ ...counts }),
    offerClaim,
    abort(jobId, reason) {
      const entry = running.get(jobId)
      if (!entry) return false
      entry.controller.abort(reason)
      return true
    },
    async stop() {
      stopping = true
      clearInterval(pollTimer)
      let graceTimer: NodeJS.Timeout | undefined
      const graceOver = new Promise<'timeout'>((resolve) => {
        graceTimer = setTimeout(() => resolve('timeout'), options.graceSeconds * 1000)
      })
      // A fetch in flight still claims jobs and starts them: wait for it, so they are drained too
      // (else the process exits under them and they wait out their heartbeat).
      if (pumping || claiming.size > 0) log.info('stopping: waiting for the claim in flight')
      await Promise.race([Promise.all([pumpIdle, ...claiming]), graceOver])
      const all = Promise.all([...running.values()].map((entry) => entry.done))
      const outcome = await Promise.race([all.then(() => 'done' as const), graceOver])
      clearTimeout(graceTimer)
      if (outcome === 'timeout') {
        log.warn({ running: running.size }, 'grace period over; aborting running jobs (they will be retried)')
        for (const entry of running.values()) {
          entry.controller.abort(new AppError('Internal', 'Worker shut down before the job finished'))
        }
        await all
      }
      await Promise.all(settling)
      await options.progress.flush()
    },
  }
}

function toOutput(result: unknown): object {
  if (result !== null && typeof result === 'object') return result as object
  return { value: result ?? null }
}
