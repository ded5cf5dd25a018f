import { Hono, type Context } from 'hono'
import { AppError, coerceError } from '../errors.ts'
import { checkWebhookUrl } from '../fetch/index.ts'
import { hashRequest } from '../queue/index.ts'
import { DEFAULT_WEBHOOK_EVENTS } from '../webhooks/index.ts'
import type { EnqueueRequest } from '../queue/index.ts'
import type { AppDeps } from './app.ts'
import { EnqueueMetaSchema, IdempotencyKeySchema, JobIdSchema, META_KEYS } from './contract.ts'
import { createStatusHub, streamJobEvents } from './events-routes.ts'
import { clientIdentity, presentedApiKey, type RateLimiter } from './rate-limit.ts'
import { parseWith, readJsonObject } from './validate.ts'

const QUEUED_MESSAGE = 'Task queued successfully'
// What a refused enqueue tells the client to wait: about the pools' back-off to a free session.
export const RETRY_AFTER_SECONDS = 2

export function createTaskRoutes({ config, queue, log }: AppDeps, rateLimit: RateLimiter): Hono {
  const routes = new Hono()
  const hub = createStatusHub({
    read: (jobId, from) => queue.getStatus(jobId, from),
    listener: queue.listener,
    log,
    replica: queue.readsReplica,
    pollIntervalMs: config.workerPollIntervalMs,
  })

  function pollUrl(jobId: string) {
    return `/api/tasks/status/${jobId}`
  }

  async function readEnqueueRequest(c: Context, kind: string): Promise<EnqueueRequest> {
    const body = await readJsonObject(c)
    const meta = parseWith(EnqueueMetaSchema, Object.fromEntries(META_KEYS.map((key) => [key, body[key]])), 'queue options')
    const payload = Object.fromEntries(Object.entries(body).filter(([key]) => !(META_KEYS as readonly string[]).includes(key)))
    const valid = queue.validate(kind, payload) as Record<string, unknown>
    const runAt = meta.enqueue_at
      ? new Date(meta.enqueue_at)
      : meta.enqueue_in
        ? new Date(Date.now() + meta.enqueue_in * 1000)
        : undefined
    const sessionId = typeof valid.session_id === 'string' ? valid.session_id : null
    return { kind, payload: valid, sessionId, priority: meta.priority, runAt, ...webhookOf(meta), ...idempotencyOf(c, kind, body) }
  }

  function webhookOf(meta: { webhook_url?: string; webhook_events?: Array<'finished' | 'failed' | 'canceled'> }) {
    if (meta.webhook_url === undefined) return {}
    if (!config.webhookSecret) {
      throw new AppError('ValidationFailed', 'Webhooks are disabled on this server (WEBHOOK_SECRET is not set)', {
        details: { field: 'webhook_url' },
      })
    }
    // Refused here (400) and checked again at send time against the resolved addresses.
    const url = checkWebhookUrl(meta.webhook_url, config).href
    return { webhook: { url, events: [...new Set(meta.webhook_events ?? DEFAULT_WEBHOOK_EVENTS)] } }
  }

  function idempotencyOf(c: Context, kind: string, body: Record<string, unknown>) {
    const header = c.req.header('idempotency-key')
    if (header === undefined) return {}
    const key = parseWith(IdempotencyKeySchema, header, 'Idempotency-Key header')
    // Keys are scoped per API key; without keys, per service (an IP changes under NAT and retries).
    const client = presentedApiKey(c) ? clientIdentity(c).id : '-'
    return { idempotency: { client, key, bodyHash: hashRequest(kind, body) } }
  }

  routes.get('/queue-stats', async (c) => c.json(await queue.cachedStats()))

  routes.get('/status/:job_id/events', (c) => streamJobEvents(c, hub))

  routes.get('/status/:job_id', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    return c.json(await queue.getStatus(jobId))
  })

  routes.post('/:job_id{[0-9a-fA-F-]{36}}/cancel', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    return c.json(await queue.cancel(jobId))
  })

  routes.post('/:job_id{[0-9a-fA-F-]{36}}/requeue', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    return c.json(await queue.requeue(jobId))
  })

  // One route per registered task kind: parse, find-similar, report (and kinds tests register).
  routes.post('/:kind{[a-z][a-z0-9-]*}', rateLimit.middleware, async (c) => {
    const kind = c.req.param('kind')
    if (!queue.tasks.has(kind)) {
      throw new AppError('JobNotFound', `Unknown task kind "${kind}"`, { details: { kinds: queue.kinds } })
    }
    const request = await readEnqueueRequest(c, kind)
    try {
      const jobId = await queue.enqueue(request)
      const status = request.runAt && request.runAt.getTime() > Date.now() ? 'scheduled' : 'queued'
      return c.json({ job_id: jobId, status, message: QUEUED_MESSAGE, poll_url: pollUrl(jobId) }, 202)
    } catch (e) {
      // Up but full (or starting): the job is not stored, and running it here would only add load.
      if (queue.isBusy(e)) throw new AppError('DatabaseBusy', 'Queue database is at its connection limit; try again shortly', { details: { retry_after_seconds: RETRY_AFTER_SECONDS } })
      if (!queue.isUnreachable(e)) throw e
      if (!config.syncFallback) {
        throw new AppError('QueueUnavailable', 'Queue database unreachable and SYNC_FALLBACK is off; try again shortly', {
          details: { fallback: false },
        })
      }
      log.warn({ err: coerceError(e).message, code: (e as { code?: unknown }).code }, 'enqueue failed: queue database unreachable')
      // The guide's synchronous fallback: the task runs now and the answer is its final status.
      const body = await queue.runInline({
        kind,
        payload: request.payload,
        sessionId: request.sessionId ?? null,
        priority: request.priority ?? 'normal',
      })
      return c.json({ ...body, poll_url: pollUrl(body.job_id), fallback: true }, 200)
    }
  })

  return routes
}
