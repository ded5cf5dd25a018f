import { AppError, coerceError, isDatabaseUnreachable } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { PreparedJob } from './enqueue.ts'
import type { StatusBody } from './status.ts'

const KEPT_RESULTS = 1000
/** Task services backed by the (unreachable) database: in fallback their writes are skipped, not fatal. */
const DATABASE_SERVICES = ['sessions', 'listings', 'reports']

function withBestEffortStores(deps: Record<string, unknown>, log: Logger): Record<string, unknown> {
  const wrapped: Record<string, unknown> = { ...deps }
  for (const name of DATABASE_SERVICES) {
    const service = deps[name] as Record<string, unknown> | undefined
    if (!service) continue
    wrapped[name] = Object.fromEntries(
      Object.entries(service).map(([method, fn]) => [
        method,
        async (...args: unknown[]) => {
          try {
            return await (fn as (...a: unknown[]) => Promise<unknown>)(...args)
          } catch (e) {
            if (!isDatabaseUnreachable(e)) throw e
            log.warn({ service: name, method }, 'database unreachable: skipped a store call in fallback mode')
            return undefined
          }
        },
      ]),
    )
  }
  return wrapped
}

/**
 * The guide's promise: when the queue's store is unreachable, run the task synchronously.
 * The job runs inside the request (bounded by its timeout) and its final status is kept in this
 * process's memory for RQ_RESULT_TTL, so the guide's poller finds it at /api/tasks/status/:id.
 * It is not durable: a restart of this process forgets it (documented in the README).
 */
export function createFallback(options: {
  deps: Record<string, unknown>
  timeoutSeconds: number
  resultTtlSeconds: number
  log: Logger
}) {
  const results = new Map<string, { body: StatusBody; expiresAt: number }>()
  const deps = withBestEffortStores(options.deps, options.log)

  function remember(body: StatusBody): void {
    results.set(body.job_id, { body, expiresAt: Date.now() + options.resultTtlSeconds * 1000 })
    while (results.size > KEPT_RESULTS) results.delete(results.keys().next().value!)
  }

  return {
    find(jobId: string): StatusBody | undefined {
      const entry = results.get(jobId)
      if (!entry) return undefined
      if (entry.expiresAt < Date.now()) {
        results.delete(jobId)
        return undefined
      }
      return entry.body
    },

    /** Runs a parsed and admitted job now, in this process. */
    async run(job: PreparedJob): Promise<StatusBody> {
      const { task, jobId, sessionId } = job
      const log = options.log.child({ job_id: jobId, kind: task.kind, session_id: sessionId, fallback: true })
      const timeoutSeconds = task.timeoutSeconds ?? options.timeoutSeconds
      const controller = new AbortController()
      const timer = setTimeout(
        () => controller.abort(new AppError('JobTimeout', `Job exceeded its timeout of ${timeoutSeconds} s`)),
        timeoutSeconds * 1000,
      )
      const createdAt = new Date().toISOString()
      const body: StatusBody = {
        job_id: jobId,
        kind: task.kind,
        status: 'started',
        priority: job.request.priority ?? 'normal',
        created_at: createdAt,
        started_at: createdAt,
        ended_at: null,
        progress: 0,
        message: 'Обработка...',
        attempt: 1,
        max_attempts: 1,
        session_id: sessionId,
      }
      log.warn('queue database unreachable; running the task synchronously')
      const aborted = new Promise<never>((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
      )
      try {
        const result = await Promise.race([
          task.handler(job.payload, {
            jobId,
            sessionId,
            attempt: 1,
            progress: async (percent, message) => {
              body.progress = percent
              body.message = message
            },
            signal: controller.signal,
            log,
            parents: [],
            deps,
          }),
          aborted,
        ])
        Object.assign(body, { status: 'finished', progress: 100, result, ended_at: new Date().toISOString() })
      } catch (e) {
        const error = coerceError(e)
        Object.assign(body, { status: 'failed', error: error.message, message: 'Ошибка', ended_at: new Date().toISOString() })
        if (error instanceof AppError) body.error_code = error.code
      } finally {
        clearTimeout(timer)
      }
      remember(body)
      return body
    },
  }
}

export type Fallback = ReturnType<typeof createFallback>
