import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
// The pg-boss 12 job table columns read here are pinned by test/integration/queue/pg-boss-pin.test.ts.
export async function up(db: Kysely<any>): Promise<void> {
  // The only pg-boss state → RQ status mapping: the jobs view, the queue counts and the webhook
  // trigger all call it, so /status, /queue-stats, the dashboard and the views cannot disagree.
  // LANGUAGE sql and STABLE, so Postgres inlines it into each query as the CASE it is; the state is
  // pg-boss's own enum, so no cast per row (pinned by the pg-boss pin test like the job table).
  await sql`
    CREATE FUNCTION housler.rq_status(state pgboss.job_state, blocked boolean, start_after timestamptz, permanent_failure boolean, expired boolean)
    RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
      SELECT CASE
        WHEN expired THEN 'expired'
        WHEN state = 'completed' THEN 'finished'
        WHEN state = 'failed' THEN 'failed'
        WHEN state = 'cancelled' THEN 'canceled'
        WHEN state = 'active' THEN 'started'
        -- A failure no retry can fix is recorded on our row first; pg-boss is settled to failed after.
        WHEN permanent_failure THEN 'failed'
        WHEN blocked THEN 'deferred'
        WHEN start_after > now() THEN 'scheduled'
        ELSE 'queued'
      END
    $fn$
  `.execute(db)
  await sql`COMMENT ON FUNCTION housler.rq_status(pgboss.job_state, boolean, timestamptz, boolean, boolean) IS 'RQ status word of a job from its pg-boss state (queued, started, deferred, scheduled, finished, failed, canceled, expired). Used by housler.jobs, the queue counts and the webhook trigger.'`.execute(db)

  // The error a failed, canceled or retrying job shows, from pg-boss's output and our row.
  await sql`
    CREATE FUNCTION housler.rq_error(state pgboss.job_state, output jsonb, permanent_error jsonb, cancel_reason text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
      SELECT CASE
        WHEN permanent_error IS NOT NULL THEN permanent_error ->> 'message'
        WHEN state = 'failed' THEN coalesce(output ->> 'message', output -> 'value' ->> 'message', 'Job failed')
        WHEN state = 'cancelled' THEN cancel_reason
        WHEN state = 'retry' THEN coalesce(output ->> 'message', output -> 'value' ->> 'message')
      END
    $fn$
  `.execute(db)
  await sql`
    CREATE FUNCTION housler.rq_error_code(state pgboss.job_state, output jsonb, permanent_error jsonb)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
      SELECT CASE
        WHEN permanent_error IS NOT NULL THEN permanent_error ->> 'code'
        WHEN state IN ('failed', 'retry') THEN coalesce(output ->> 'code', output -> 'value' ->> 'code')
      END
    $fn$
  `.execute(db)
  await sql`COMMENT ON FUNCTION housler.rq_error(pgboss.job_state, jsonb, jsonb, text) IS 'Error message of a job (failed, canceled, or awaiting a retry), as housler.jobs and webhooks show it.'`.execute(db)

  // The columns of migration 0001, in place (dependent views and comments stay), plus error_code.
  await sql`
    CREATE OR REPLACE VIEW housler.jobs AS
    SELECT
      t.job_id AS id,
      t.kind,
      housler.rq_status(j.state, j.blocked, j.start_after, t.permanent_error IS NOT NULL, t.expired_at IS NOT NULL OR j.id IS NULL) AS status,
      t.priority,
      CASE WHEN j.state = 'completed' THEN 100 ELSE t.progress END AS progress,
      t.message,
      t.session_id,
      t.created_at,
      j.started_on AS started_at,
      CASE WHEN j.state IN ('completed', 'failed', 'cancelled') THEN j.completed_on END AS ended_at,
      -- A permanent failure is settled by one more claim that runs nothing: it is not an attempt.
      CASE
        WHEN t.permanent_error ? 'attempt' THEN (t.permanent_error ->> 'attempt')::int
        WHEN j.started_on IS NULL THEN 0
        ELSE j.retry_count + 1
      END AS attempts,
      t.max_attempts,
      CASE WHEN j.state IN ('created', 'retry') AND j.start_after > now() THEN j.start_after END AS next_attempt_at,
      CASE WHEN j.state = 'completed' THEN j.output END AS result,
      housler.rq_error(j.state, j.output, t.permanent_error, t.cancel_reason) AS error,
      CASE
        WHEN t.permanent_error IS NOT NULL THEN t.permanent_error ->> 'stack'
        WHEN j.state IN ('failed', 'retry') THEN j.output ->> 'stack'
      END AS stack,
      t.depends_on,
      t.payload,
      -- New columns go last: CREATE OR REPLACE VIEW keeps the existing ones in place.
      housler.rq_error_code(j.state, j.output, t.permanent_error) AS error_code
    FROM housler._tasks t
    LEFT JOIN pgboss.job j ON j.name = t.kind AND j.id = t.job_id
  `.execute(db)

  await sql`COMMENT ON COLUMN housler.jobs.error_code IS 'Code of the failure (e.g. JobTimeout, ListingNotFound) when it had one'`.execute(db)

  await sql`
    CREATE OR REPLACE FUNCTION housler.capture_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      ev text := housler.rq_status(NEW.state, NEW.blocked, NEW.start_after, false, false);
    BEGIN
      INSERT INTO housler.webhook_events (job_id, event, url, body)
      SELECT w.job_id, ev, w.url, (
          jsonb_build_object('event', ev, 'job_id', w.job_id, 'kind', t.kind, 'status', ev)
          || CASE
            WHEN ev = 'finished' THEN jsonb_build_object('result', NEW.output)
            ELSE jsonb_build_object('error', coalesce(housler.rq_error(NEW.state, NEW.output, t.permanent_error, t.cancel_reason), 'Canceled'))
          END
          || jsonb_build_object('session_id', t.session_id, 'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        )::text
      FROM housler.webhooks w JOIN housler._tasks t ON t.job_id = w.job_id
      WHERE w.job_id = NEW.id AND ev = ANY (w.events);
      RETURN NULL;
    END
    $fn$
  `.execute(db)

  // The queue counts look up only the task rows settling a permanent failure: a handful, by this index.
  await sql`CREATE INDEX _tasks_permanent_error_idx ON housler._tasks (job_id) WHERE permanent_error IS NOT NULL`.execute(db)
}
