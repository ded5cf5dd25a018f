import type { Config } from '../config.ts'
import type { JobIndexRow, JobRow, Queue, WorkerRow } from '../queue/index.ts'

/**
 * The queue operations and reads the Redis-protocol adapter uses: all of it goes through the
 * queue's public interface, so the adapter holds no state of its own.
 */
export type RqBackend = {
  kinds: readonly string[]
  /** Throws when the queue's database cannot be reached. */
  ping(): Promise<void>
  timeoutSeconds(kind: string): number
  resultTtlSeconds: number
  failureTtlSeconds: number
  findJob(jobId: string): Promise<JobRow | undefined>
  jobIndex(filter: { status?: string; kind?: string; limit: number }): Promise<JobIndexRow[]>
  workers(): Promise<WorkerRow[]>
  /** Validates (schema and admission checks, as the HTTP API) and enqueues under the caller's id. */
  enqueue(request: { kind: string; payload: unknown; sessionId: string | null; jobId: string; runAt?: Date }): Promise<{ jobId: string; reused: boolean }>
  cancel(jobId: string): Promise<unknown>
  requeue(jobId: string): Promise<unknown>
  remove(jobId: string): Promise<void>
  /** Deletes the waiting jobs of one kind; returns how many. */
  empty(kind: string): Promise<number>
}

export function createRqBackend(queue: Queue, config: Config): RqBackend {
  return {
    kinds: queue.kinds,
    ping: () => queue.monitoring.ping().then(() => undefined),
    timeoutSeconds: (kind) => queue.timeoutSeconds(kind),
    resultTtlSeconds: config.resultTtlSeconds,
    failureTtlSeconds: config.failureTtlSeconds,
    findJob: (jobId) => queue.monitoring.findJob(jobId),
    jobIndex: (filter) => queue.monitoring.jobIndex(filter),
    workers: () => queue.monitoring.workers(),
    // The queue parses and admits the payload (schema, URL policy) exactly once, as for HTTP.
    enqueue: (request) => queue.enqueue(request),
    cancel: (jobId) => queue.cancel(jobId),
    requeue: (jobId) => queue.requeue(jobId),
    remove: (jobId) => queue.remove(jobId),
    empty: (kind) => queue.emptyQueue(kind),
  }
}
