import { sql, type Kysely } from 'kysely'

async function comment(db: Kysely<any>, view: string, columns: Record<string, string>): Promise<void> {
  for (const [column, text] of Object.entries(columns)) {
    await sql`COMMENT ON COLUMN ${sql.id('housler', view, column)} IS ${sql.lit(text)}`.execute(db)
  }
}

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One row per running worker process, written only by that process: registered at start,
    -- heartbeated every WORKER_HEARTBEAT_SECONDS, deleted on clean exit. A crashed process leaves
    -- its row behind with a stale heartbeat, which the workers view reports as dead.
    CREATE TABLE housler._workers (
      id                text PRIMARY KEY,
      host              text NOT NULL,
      pid               int NOT NULL,
      version           text NOT NULL,
      kinds             text[] NOT NULL,
      concurrency       int NOT NULL,
      heartbeat_seconds int NOT NULL CHECK (heartbeat_seconds > 0),
      started_at        timestamptz NOT NULL DEFAULT now(),
      last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
      current_jobs      uuid[] NOT NULL DEFAULT '{}',
      finished_count    int NOT NULL DEFAULT 0,
      failed_count      int NOT NULL DEFAULT 0
    )
  `.execute(db)

  // Dead after three missed heartbeats: one late beat (GC pause, slow commit) must not flap the state.
  await sql`
    CREATE VIEW housler.workers AS
    SELECT
      w.id, w.host, w.pid, w.version, w.kinds, w.concurrency,
      CASE
        WHEN w.last_heartbeat_at < now() - make_interval(secs => 3 * w.heartbeat_seconds) THEN 'dead'
        WHEN cardinality(w.current_jobs) > 0 THEN 'busy'
        ELSE 'idle'
      END AS state,
      w.current_jobs, w.finished_count, w.failed_count, w.started_at, w.last_heartbeat_at,
      now() - w.last_heartbeat_at AS heartbeat_age,
      w.heartbeat_seconds
    FROM housler._workers w
  `.execute(db)
  await sql`COMMENT ON VIEW housler.workers IS 'Registered worker processes (API processes with an in-process worker included). state: busy (running jobs), idle, dead (no heartbeat for 3 heartbeat intervals; its jobs are retried by pg-boss once their heartbeat expires). Clean exits delete their row.'`.execute(db)
  await comment(db, 'workers', {
    id: 'Worker id: host:pid:random',
    host: 'Host name of the worker process',
    pid: 'Process id on that host',
    version: 'Service version (package.json) the process runs',
    kinds: 'Task kinds the worker consumes',
    concurrency: 'Jobs it runs at once',
    state: 'busy, idle or dead',
    current_jobs: 'Ids of the jobs it was running at its last heartbeat',
    finished_count: 'Jobs it finished since it started',
    failed_count: 'Jobs it failed for good since it started',
    started_at: 'When the process registered',
    last_heartbeat_at: 'Its last heartbeat',
    heartbeat_age: 'Time since its last heartbeat',
    heartbeat_seconds: 'Its heartbeat interval (WORKER_HEARTBEAT_SECONDS)',
  })

  await sql`
    CREATE VIEW housler.queue_stats AS
    SELECT kind, status, count(*)::int AS jobs
    FROM housler.jobs
    GROUP BY kind, status
  `.execute(db)
  await sql`COMMENT ON VIEW housler.queue_stats IS 'Job counts per kind and RQ status (rq info). Statuses with no jobs have no row.'`.execute(db)
  await comment(db, 'queue_stats', {
    kind: 'Task kind',
    status: 'RQ status word (see housler.jobs)',
    jobs: 'Number of jobs of this kind in this status',
  })

  await sql`
    CREATE VIEW housler.failed_jobs AS
    SELECT id, kind, session_id, attempts, max_attempts, created_at, started_at, ended_at, error, stack, payload
    FROM housler.jobs
    WHERE status = 'failed'
  `.execute(db)
  await sql`COMMENT ON VIEW housler.failed_jobs IS 'Failed jobs with their error and stack trace (RQ failed registry, exc_info). Kept for RQ_FAILURE_TTL.'`.execute(db)
  await comment(db, 'failed_jobs', {
    id: 'Job id',
    kind: 'Task kind',
    session_id: 'The client session that enqueued the job',
    attempts: 'Attempts made',
    max_attempts: 'Attempts allowed',
    created_at: 'When the job was enqueued',
    started_at: 'When its last attempt started',
    ended_at: 'When it failed',
    error: 'Error message',
    stack: 'Stack trace of the last failure',
    payload: 'The task input, to reproduce the failure',
  })

  // wait = created → (last) start, so a retried job's wait includes its earlier attempts and back-off.
  await sql`
    CREATE VIEW housler.throughput AS
    SELECT
      date_trunc('minute', ended_at) AS minute,
      kind,
      count(*) FILTER (WHERE status = 'finished')::int AS finished,
      count(*) FILTER (WHERE status = 'failed')::int AS failed,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) AS wait_p50_seconds,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) AS wait_p95_seconds,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at)) AS run_p50_seconds,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at)) AS run_p95_seconds
    FROM housler.jobs
    WHERE status IN ('finished', 'failed') AND ended_at IS NOT NULL AND started_at IS NOT NULL
    GROUP BY 1, 2
  `.execute(db)
  await sql`COMMENT ON VIEW housler.throughput IS 'Jobs finished and failed per minute and kind, with wait (enqueue → start) and run (start → end) percentiles in seconds. Covers jobs still within their result/failure TTL.'`.execute(db)
  await comment(db, 'throughput', {
    minute: 'The minute the jobs ended in',
    kind: 'Task kind',
    finished: 'Jobs finished in that minute',
    failed: 'Jobs failed for good in that minute',
    wait_p50_seconds: 'Median seconds from enqueue to start of the last attempt',
    wait_p95_seconds: '95th percentile of the wait',
    run_p50_seconds: 'Median seconds from start to end of the last attempt',
    run_p95_seconds: '95th percentile of the run time',
  })
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW housler.throughput`.execute(db)
  await sql`DROP VIEW housler.failed_jobs`.execute(db)
  await sql`DROP VIEW housler.queue_stats`.execute(db)
  await sql`DROP VIEW housler.workers`.execute(db)
  await sql`DROP TABLE housler._workers`.execute(db)
}
