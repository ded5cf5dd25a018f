import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Our record of every job. Keyed by the pg-boss job id but with no foreign key into pgboss.job:
    -- pg-boss deletes and re-inserts a job's row on every failure, which would cascade or be blocked.
    CREATE TABLE housler._tasks (
      job_id          uuid PRIMARY KEY,
      kind            text NOT NULL,
      session_id      text,
      priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('high', 'normal', 'low')),
      payload         jsonb NOT NULL,
      progress        smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
      message         text,
      attempts        int NOT NULL DEFAULT 0,
      max_attempts    int NOT NULL CHECK (max_attempts >= 1),
      depends_on      uuid[] NOT NULL DEFAULT '{}',
      -- Set when a handler failed in a way retries cannot fix; pg-boss is then settled to failed.
      permanent_error jsonb,
      -- Why a job was canceled (by a user, or because a job it depended on did not finish).
      cancel_reason   text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      -- Tombstone: the job outlived RQ_RESULT_TTL / RQ_FAILURE_TTL and its data was deleted.
      expired_at      timestamptz
    )
  `.execute(db)
  await sql`CREATE INDEX _tasks_session_idx ON housler._tasks (session_id, created_at DESC) WHERE session_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX _tasks_depends_on_idx ON housler._tasks USING gin (depends_on) WHERE depends_on <> '{}'`.execute(db)
  await sql`CREATE INDEX _tasks_expired_idx ON housler._tasks (expired_at) WHERE expired_at IS NOT NULL`.execute(db)
  await sql`CREATE INDEX _tasks_created_idx ON housler._tasks (created_at DESC)`.execute(db)

  // Pinned to pg-boss 12's job table (columns name, id, state, retry_count, start_after, started_on,
  // completed_on, blocked, output); test/integration/views.test.ts fails when an upgrade changes them.
  await sql`
    CREATE VIEW housler.jobs AS
    SELECT
      t.job_id AS id,
      t.kind,
      CASE
        WHEN t.expired_at IS NOT NULL OR j.id IS NULL THEN 'expired'
        WHEN j.state = 'completed' THEN 'finished'
        WHEN j.state = 'failed' THEN 'failed'
        WHEN j.state = 'cancelled' THEN 'canceled'
        WHEN j.state = 'active' THEN 'started'
        WHEN t.permanent_error IS NOT NULL THEN 'failed'
        WHEN j.blocked THEN 'deferred'
        WHEN j.start_after > now() THEN 'scheduled'
        ELSE 'queued'
      END AS status,
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
      CASE
        WHEN t.permanent_error IS NOT NULL THEN t.permanent_error ->> 'message'
        WHEN j.state = 'failed' THEN coalesce(j.output ->> 'message', j.output -> 'value' ->> 'message', 'job failed')
        WHEN j.state = 'cancelled' THEN t.cancel_reason
        WHEN j.state = 'retry' THEN coalesce(j.output ->> 'message', j.output -> 'value' ->> 'message')
      END AS error,
      CASE
        WHEN t.permanent_error IS NOT NULL THEN t.permanent_error ->> 'stack'
        WHEN j.state IN ('failed', 'retry') THEN j.output ->> 'stack'
      END AS stack,
      t.depends_on,
      t.payload
    FROM housler._tasks t
    LEFT JOIN pgboss.job j ON j.name = t.kind AND j.id = t.job_id
  `.execute(db)
  await sql`COMMENT ON VIEW housler.jobs IS 'One row per job in RQ words. status: queued, started, deferred (waiting on another job), scheduled (waiting for a time or a retry back-off), finished, failed, canceled, expired (past its TTL; data deleted).'`.execute(db)
  const columns: Record<string, string> = {
    id: 'Job id (uuid), as returned by POST /api/tasks/*',
    kind: 'Task kind: parse, find-similar, report, …',
    status: 'RQ status word',
    priority: 'high, normal or low',
    progress: 'Last reported progress, 0–100',
    message: 'Last progress message shown to the user',
    session_id: 'The client session that enqueued the job',
    created_at: 'When the job was enqueued',
    started_at: 'When its current or last attempt started',
    ended_at: 'When it finished, failed or was canceled',
    attempts: 'Attempts started so far',
    max_attempts: "Attempts allowed by the kind's retry policy",
    next_attempt_at: 'When a scheduled job (or a retry) becomes runnable',
    result: 'The task result (finished jobs only)',
    error: 'Error message (failed or canceled jobs, and the last error of a job awaiting retry)',
    stack: 'Stack trace of the failure (RQ exc_info)',
    depends_on: 'Jobs this one waits for',
    payload: 'The task input',
  }
  for (const [column, comment] of Object.entries(columns)) {
    await sql`COMMENT ON COLUMN housler.jobs.${sql.id(column)} IS ${sql.lit(comment)}`.execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW housler.jobs`.execute(db)
  await sql`DROP TABLE housler._tasks`.execute(db)
}
