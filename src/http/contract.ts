import { z } from 'zod'
import { ERROR_CODES } from '../errors.ts'
import { PRIORITIES, STATUSES, type StatusBody } from '../queue/index.ts'
import { WEBHOOK_EVENTS } from '../webhooks/index.ts'

/** Fields of an enqueue body that steer the queue rather than the task. */
export const EnqueueMetaSchema = z.object({
  priority: z.enum(PRIORITIES).default('normal'),
  /** Seconds from now (RQ enqueue_in). */
  enqueue_in: z.number().int().min(0).max(30 * 86400).optional(),
  /** ISO-8601 time (RQ enqueue_at). */
  enqueue_at: z.iso.datetime({ offset: true }).optional(),
  /** POSTed a signed event when the job ends; checked against the webhook address rules. */
  webhook_url: z.string().max(2048).optional(),
  webhook_events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
})
export const META_KEYS = ['priority', 'enqueue_in', 'enqueue_at', 'webhook_url', 'webhook_events'] as const

/** Idempotency-Key header: opaque, 1–255 visible ASCII characters. */
export const IdempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1–255 visible ASCII characters')

export const WebhookStateSchema = z.object({
  url: z.string(),
  events: z.array(z.string()),
  delivered: z.boolean(),
  attempts: z.number().int().min(0),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  event_id: z.uuid().optional(),
  next_attempt_at: z.iso.datetime().optional(),
  gave_up: z.boolean().optional(),
})

export const JobIdSchema = z.uuid({ message: 'job_id must be a UUID' })

export const EnqueueResponseSchema = z.object({
  job_id: z.uuid(),
  status: z.literal('queued').or(z.enum(['deferred', 'scheduled'])),
  message: z.string(),
  poll_url: z.string(),
})

export const StatusBodySchema = z.object({
  job_id: z.string(),
  kind: z.string(),
  status: z.enum(STATUSES),
  priority: z.enum(PRIORITIES),
  created_at: z.iso.datetime(),
  started_at: z.iso.datetime().nullable(),
  ended_at: z.iso.datetime().nullable(),
  progress: z.number().min(0).max(100),
  message: z.string(),
  attempt: z.number().int().min(0),
  max_attempts: z.number().int().min(1),
  session_id: z.string().nullable(),
  depends_on: z.array(z.string()).optional(),
  next_attempt_at: z.iso.datetime().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  error_code: z.enum(ERROR_CODES).optional(),
  webhook: WebhookStateSchema.optional(),
  /** Child jobs the job spawned (find-similar's analog pages). */
  children: z.object({ total: z.number().int(), finished: z.number().int(), failed: z.number().int() }).optional(),
}) satisfies z.ZodType<StatusBody>
// `satisfies` checks the schema's fields against StatusBody; this checks that none of StatusBody's is missing.
const statusSchemaCoversBody: [Exclude<keyof StatusBody, keyof z.infer<typeof StatusBodySchema>>] extends [never] ? true : never = true
void statusSchemaCoversBody

const CountsSchema = z.object({
  queued_jobs: z.number().int(),
  started_jobs: z.number().int(),
  finished_jobs: z.number().int(),
  failed_jobs: z.number().int(),
  deferred_jobs: z.number().int(),
  scheduled_jobs: z.number().int(),
  canceled_jobs: z.number().int(),
})
export const QueueStatsSchema = CountsSchema.extend({ by_kind: z.record(z.string(), CountsSchema) })

export const ErrorBodySchema = z.object({ error: z.string(), code: z.enum(ERROR_CODES), details: z.unknown() })
