import { z } from 'zod'
import type { Logger } from '../log.ts'

/** What a running task may do besides its own work: report progress, notice cancellation, log. */
export type TaskContext<D = TaskDeps> = {
  jobId: string
  sessionId: string | null
  /** 1 on the first try. */
  attempt: number
  /** Reports 0–100 and a message for the user (Russian); written in the background, pollers see it within milliseconds. */
  progress(percent: number, message: string): Promise<void>
  /** Fires on timeout, cancellation and shutdown past the grace period. */
  signal: AbortSignal
  log: Logger
  /** Results of the jobs this one depended on, by job id, in the order they were given. */
  parents: ReadonlyArray<{ jobId: string; kind: string; result: unknown }>
  deps: D
}

/** Services a task may use; the composition roots fill them in, tests use the real ones. */
export type TaskDeps = Record<string, unknown>

export type RetryPolicy = {
  /** Total tries including the first. */
  maxAttempts: number
  /** First back-off; doubled each retry, with jitter, capped by backoffMaxSeconds. */
  backoffSeconds: number
  backoffMaxSeconds: number
}

export type TaskDefinition<P = any, R = any, D = any> = {
  kind: string
  payload: z.ZodType<P>
  retry: RetryPolicy
  /** Overrides RQ_JOB_TIMEOUT for this kind. */
  timeoutSeconds?: number
  /** Message shown while the job waits in the queue. */
  queuedMessage?: string
  /** Checks at enqueue time that need configuration (e.g. the URL policy); throws AppError to refuse. */
  admit?(payload: P, deps: D): void
  /**
   * Without an Idempotency-Key, an enqueue whose key equals that of an unfinished job of this kind
   * (queued, scheduled, deferred or running) returns that job instead of a duplicate. undefined: no dedupe.
   */
  dedupeKey?(payload: P): string | undefined
  /** Runs child jobs (TaskServices.children): its status body then counts them. */
  spawnsChildren?: boolean
  handler(payload: P, ctx: TaskContext<D>): Promise<R>
}

export function defineTask<P, R, D = TaskDeps>(definition: TaskDefinition<P, R, D>): TaskDefinition<P, R, D> {
  return definition
}

/** `session_id`: the browser's opaque id, the key of a session's target, analogs and report. */
export const SessionIdSchema = z.string().min(1).max(200)
