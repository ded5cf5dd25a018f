import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A job's webhook subscription, written in the enqueue transaction.
    CREATE TABLE housler.webhooks (
      job_id     uuid PRIMARY KEY,
      url        text NOT NULL,
      events     text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db)
  await sql`
    -- The outbox: one row per event to deliver; the body is fixed when the job ends, so every retry
    -- sends the same bytes under the same event id.
    CREATE TABLE housler.webhook_events (
      event_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      job_id          uuid NOT NULL,
      event           text NOT NULL,
      url             text NOT NULL,
      body            text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      attempts        int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_attempt_at timestamptz,
      last_status     int,
      last_error      text,
      delivered_at    timestamptz,
      gave_up_at      timestamptz
    )
  `.execute(db)
  await sql`CREATE INDEX webhook_events_due_idx ON housler.webhook_events (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL`.execute(db)
  await sql`CREATE INDEX webhook_events_job_idx ON housler.webhook_events (job_id, created_at DESC)`.execute(db)

  // The outbox row is written by the same transaction that ends the job, whichever code path ends it
  // (worker complete/fail, cancel, pg-boss expiry): a trigger on pg-boss's job table. pg-boss 12
  // attaches one partition per queue; row triggers on the partitioned parent are cloned onto each.
  await sql`
    CREATE FUNCTION housler.capture_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      ev text := CASE NEW.state WHEN 'completed' THEN 'finished' WHEN 'failed' THEN 'failed' ELSE 'canceled' END;
    BEGIN
      INSERT INTO housler.webhook_events (job_id, event, url, body)
      SELECT w.job_id, ev, w.url, (
          jsonb_build_object('event', ev, 'job_id', w.job_id, 'kind', t.kind, 'status', ev)
          || CASE
            WHEN ev = 'finished' THEN jsonb_build_object('result', NEW.output)
            WHEN ev = 'failed' THEN jsonb_build_object('error', coalesce(t.permanent_error ->> 'message', NEW.output ->> 'message', NEW.output -> 'value' ->> 'message', 'Job failed'))
            ELSE jsonb_build_object('error', coalesce(t.cancel_reason, 'Canceled'))
          END
          || jsonb_build_object('session_id', t.session_id, 'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        )::text
      FROM housler.webhooks w JOIN housler._tasks t ON t.job_id = w.job_id
      WHERE w.job_id = NEW.id AND ev = ANY (w.events);
      RETURN NULL;
    END
    $fn$
  `.execute(db)
  await sql`
    CREATE TRIGGER housler_webhook_on_update AFTER UPDATE OF state ON pgboss.job
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state AND NEW.state IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION housler.capture_webhook_event()
  `.execute(db)
  await sql`
    CREATE TRIGGER housler_webhook_on_insert AFTER INSERT ON pgboss.job
    FOR EACH ROW WHEN (NEW.state IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION housler.capture_webhook_event()
  `.execute(db)

  await sql`
    -- Idempotency-Key: the same key and body within 24 h returns the same job; the primary key decides races.
    CREATE TABLE housler.idempotency_keys (
      client     text NOT NULL,
      key        text NOT NULL,
      body_hash  text NOT NULL,
      job_id     uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client, key)
    )
  `.execute(db)
  await sql`CREATE INDEX idempotency_keys_created_idx ON housler.idempotency_keys (created_at)`.execute(db)
  await sql`
    -- TaskDefinition.dedupeKey: while a job with the same kind and key is unfinished, enqueue returns it.
    CREATE TABLE housler.task_dedupe (
      job_id     uuid PRIMARY KEY,
      kind       text NOT NULL,
      dedupe_key text NOT NULL
    )
  `.execute(db)
  await sql`CREATE INDEX task_dedupe_key_idx ON housler.task_dedupe (kind, dedupe_key)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS housler_webhook_on_update ON pgboss.job`.execute(db)
  await sql`DROP TRIGGER IF EXISTS housler_webhook_on_insert ON pgboss.job`.execute(db)
  await sql`DROP FUNCTION IF EXISTS housler.capture_webhook_event()`.execute(db)
  await sql`DROP TABLE IF EXISTS housler.task_dedupe, housler.idempotency_keys, housler.webhook_events, housler.webhooks`.execute(db)
}
