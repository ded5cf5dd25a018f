import { sql, type Kysely } from 'kysely'

export const WEBHOOK_EVENTS = ['finished', 'failed', 'canceled'] as const
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['finished', 'failed']

export type WebhookSubscription = { url: string; events: readonly WebhookEvent[] }

/** What a poller sees under `webhook` in the status body (and the dashboard reads from the same rows). */
export type WebhookState = {
  url: string
  events: string[]
  delivered: boolean
  attempts: number
  last_status: number | null
  last_error: string | null
  event_id?: string
  next_attempt_at?: string
  gave_up?: boolean
}

export type OutboxRow = {
  event_id: string
  job_id: string
  event: string
  url: string
  body: string
  created_at: Date
  attempts: number
}

/** Stored in the enqueue transaction; the job's end writes the outbox row (trigger in migration 0004). */
export async function insertSubscriptions(db: Kysely<any>, rows: Array<{ jobId: string } & WebhookSubscription>): Promise<void> {
  for (const row of rows) {
    await sql`INSERT INTO housler.webhooks (job_id, url, events) VALUES (${row.jobId}, ${row.url}, ${[...row.events]}::text[])`.execute(db)
  }
}

/** Columns of a job's webhook subscription and its latest event, as the status query selects them. */
export type WebhookStateRow = {
  webhook_url: string | null
  webhook_events: string[] | null
  webhook_event_id: string | null
  webhook_attempts: number | null
  webhook_last_status: number | null
  webhook_last_error: string | null
  webhook_delivered_at: Date | null
  webhook_gave_up_at: Date | null
  webhook_next_attempt_at: Date | null
}

/**
 * SQL fragment for the status read: joined to a job row aliased `j`, it adds the WebhookStateRow
 * columns (nulls when the job asked for no webhook), so a status read stays one query.
 */
export const WEBHOOK_STATE_JOIN = `
  LEFT JOIN housler.webhooks w ON w.job_id = j.id
  LEFT JOIN LATERAL (
    SELECT * FROM housler.webhook_events e WHERE e.job_id = w.job_id ORDER BY e.created_at DESC LIMIT 1
  ) e ON w.job_id IS NOT NULL`
export const WEBHOOK_STATE_COLUMNS = `w.url AS webhook_url, w.events AS webhook_events, e.event_id AS webhook_event_id,
  e.attempts AS webhook_attempts, e.last_status AS webhook_last_status, e.last_error AS webhook_last_error,
  e.delivered_at AS webhook_delivered_at, e.gave_up_at AS webhook_gave_up_at, e.next_attempt_at AS webhook_next_attempt_at`

/** The subscription and its latest event's delivery state; undefined when the job asked for no webhook. */
export function webhookStateFromRow(row: WebhookStateRow): WebhookState | undefined {
  if (!row.webhook_url) return undefined
  const state: WebhookState = {
    url: row.webhook_url,
    events: row.webhook_events ?? [],
    delivered: row.webhook_delivered_at !== null,
    attempts: row.webhook_attempts ?? 0,
    last_status: row.webhook_last_status,
    last_error: row.webhook_last_error,
  }
  if (row.webhook_event_id) state.event_id = row.webhook_event_id
  if (row.webhook_event_id && !row.webhook_delivered_at && !row.webhook_gave_up_at && row.webhook_next_attempt_at) {
    state.next_attempt_at = new Date(row.webhook_next_attempt_at).toISOString()
  }
  if (row.webhook_gave_up_at) state.gave_up = true
  return state
}

/** The webhook state of one job (for the dashboard); the status endpoint reads it in its own query. */
export async function readWebhookState(db: Kysely<any>, jobId: string): Promise<WebhookState | undefined> {
  const { rows } = await sql<WebhookStateRow>`
    SELECT ${sql.raw(WEBHOOK_STATE_COLUMNS)} FROM (SELECT ${jobId}::uuid AS id) j ${sql.raw(WEBHOOK_STATE_JOIN)}`.execute(db)
  return rows[0] ? webhookStateFromRow(rows[0]) : undefined
}

/**
 * Claims due events with a lease: the claim commits at once (no transaction held open across an HTTP
 * call); a process that dies mid-delivery leaves the event to be claimed again when the lease ends.
 */
export async function claimDue(db: Kysely<any>, limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
  const { rows } = await sql<OutboxRow>`
    WITH due AS (
      SELECT event_id FROM housler.webhook_events
      WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE housler.webhook_events e
    SET attempts = e.attempts + 1, last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
    FROM due WHERE e.event_id = due.event_id
    RETURNING e.event_id, e.job_id, e.event, e.url, e.body, e.created_at, e.attempts`.execute(db)
  return rows
}

export async function markDelivered(db: Kysely<any>, eventId: string, status: number): Promise<void> {
  await sql`UPDATE housler.webhook_events SET delivered_at = now(), last_status = ${status}, last_error = NULL WHERE event_id = ${eventId}`.execute(db)
}

export async function markFailed(
  db: Kysely<any>,
  eventId: string,
  outcome: { status: number | null; error: string; retryInMs: number | null },
): Promise<void> {
  if (outcome.retryInMs === null) {
    await sql`UPDATE housler.webhook_events SET gave_up_at = now(), last_status = ${outcome.status}, last_error = ${outcome.error} WHERE event_id = ${eventId}`.execute(db)
  } else {
    await sql`
      UPDATE housler.webhook_events
      SET last_status = ${outcome.status}, last_error = ${outcome.error},
          next_attempt_at = now() + make_interval(secs => ${outcome.retryInMs / 1000})
      WHERE event_id = ${eventId}`.execute(db)
  }
}

/** Drops bookkeeping of jobs that no longer exist, delivered events after a week, and stale idempotency keys. */
export async function pruneOutbox(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM housler.webhook_events WHERE (delivered_at IS NOT NULL OR gave_up_at IS NOT NULL) AND created_at < now() - interval '7 days'`.execute(db)
  await sql`DELETE FROM housler.webhooks w WHERE NOT EXISTS (SELECT 1 FROM housler._tasks t WHERE t.job_id = w.job_id)
            AND NOT EXISTS (SELECT 1 FROM housler.webhook_events e WHERE e.job_id = w.job_id)`.execute(db)
  await sql`DELETE FROM housler.task_dedupe d WHERE NOT EXISTS (SELECT 1 FROM housler._tasks t WHERE t.job_id = d.job_id AND t.expired_at IS NULL)`.execute(db)
  await sql`DELETE FROM housler.idempotency_keys WHERE created_at < now() - interval '24 hours'`.execute(db)
}
