import { Hono, type Context } from 'hono'
import { AppError } from '../errors.ts'
import { checkWebhookUrl } from '../fetch/index.ts'
import { hashRequest } from '../queue/index.ts'
import { DEFAULT_WEBHOOK_EVENTS } from '../webhooks/index.ts'
import type { EnqueueRequest } from '../queue/index.ts'
import type { AppDeps } from './app.ts'
import { EnqueueMetaSchema, IdempotencyKeySchema, JobIdSchema, META_KEYS } from './contract.ts'
import { createStatusHub, streamJobEvents } from './events-routes.ts'
import { presentedCredentials } from './auth.ts'
import { clientIdentity, type RateLimiter } from './rate-limit.ts'
import { parseWith, readJsonObject } from './validate.ts'

const QUEUED_MESSAGE = 'Task queued successfully'

function pollUrl(jobId: string) {
  return `/api/tasks/status/${jobId}`
}

/** /api/tasks/status/:job_id and its SSE stream: open to a client key or the job's own session_id. */
export function createStatusRoutes({ queue, log }: AppDeps): Hono {
  const routes = new Hono()
  const hub = createStatusHub({
    read: (jobId, from) => queue.getStatus(jobId, from),
    onStatusChange: (handler) => queue.onStatusChange(handler),
    log,
    replica: queue.monitoring.readsReplica,
  })

  routes.get('/:job_id/events', (c) => streamJobEvents(c, hub))

  routes.get('/:job_id', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    // Rendered once by the queue (and cached for ended jobs): sent as is.
    const { json } = await queue.getStatusJson(jobId)
    return c.body(json, 200, { 'content-type': 'application/json' })
  })
  return routes
}

/** Cancel and requeue: admin actions. */
export function createJobActionRoutes({ queue }: AppDeps): Hono {
  const routes = new Hono()
  routes.post('/:job_id{[0-9a-fA-F-]{36}}/cancel', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    return c.json(await queue.cancel(jobId))
  })

  routes.post('/:job_id{[0-9a-fA-F-]{36}}/requeue', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
    return c.json(await queue.requeue(jobId))
  })
  return routes
}

/** Enqueue (one route per registered task kind) and RQ's queue-stats. */
export function createTaskRoutes({ config, queue }: AppDeps, rateLimit: RateLimiter): Hono {
  const routes = new Hono()

  async function readEnqueueRequest(c: Context, kind: string): Promise<EnqueueRequest> {
    const body = await readJsonObject(c)
    const meta = parseWith(EnqueueMetaSchema, Object.fromEntries(META_KEYS.map((key) => [key, body[key]])), 'queue options')
    const payload = Object.fromEntries(Object.entries(body).filter(([key]) => !(META_KEYS as readonly string[]).includes(key)))
    const runAt = meta.enqueue_at
      ? new Date(meta.enqueue_at)
      : meta.enqueue_in
        ? new Date(Date.now() + meta.enqueue_in * 1000)
        : undefined
    // The queue parses and admits the payload (once); session_id comes from the parsed payload.
    return { kind, payload, priority: meta.priority, runAt, ...webhookOf(meta), ...idempotencyOf(c, kind, body) }
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
    const client = presentedCredentials(c).key ? clientIdentity(c).id : '-'
    return { idempotency: { client, key, bodyHash: hashRequest(kind, body) } }
  }

  routes.get('/queue-stats', async (c) => c.json(await queue.monitoring.stats()))

  // One route per registered task kind: parse, find-similar, report (and kinds tests register).
  routes.post('/:kind{[a-z][a-z0-9-]*}', rateLimit.middleware, async (c) => {
    const kind = c.req.param('kind')
    if (!queue.kinds.includes(kind)) {
      throw new AppError('UnknownTaskKind', `Unknown task kind "${kind}"`, { details: { kinds: queue.kinds } })
    }
    const enqueued = await queue.enqueue(await readEnqueueRequest(c, kind))
    // SYNC_FALLBACK: the database was unreachable, the task ran in this request; its final status.
    if (enqueued.fallback) return c.json({ ...enqueued.fallback, poll_url: pollUrl(enqueued.jobId), fallback: true }, 200)
    // A reused job (Idempotency-Key replay, dedupe) answers with its real status, not `queued`.
    return c.json({ job_id: enqueued.jobId, status: enqueued.status, message: QUEUED_MESSAGE, poll_url: pollUrl(enqueued.jobId) }, 202)
  })

  return routes
}
