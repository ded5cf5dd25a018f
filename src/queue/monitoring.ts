import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import { pendingMigrations } from '../db/index.ts'
import { expireJobs, requeueJob, type LifecycleDeps } from './lifecycle.ts'
import type { JobRow } from './status.ts'

export type WorkerRow = {
  id: string
  host: string
  pid: number
  version: string
  kinds: string[]
  concurrency: number
  state: 'busy' | 'idle' | 'dead'
  current_jobs: string[]
  finished_count: number
  failed_count: number
  started_at: Date
  last_heartbeat_at: Date
  heartbeat_age_seconds: number
}

export type QueueStatRow = { kind: string; status: string; jobs: number }
export type ThroughputRow = { minute: Date; finished: number; failed: number; wait_p50_seconds: number | null; run_p50_seconds: number | null }
export type FailedJobRow = Pick<JobRow, 'id' | 'kind' | 'session_id' | 'attempts' | 'error' | 'stack' | 'ended_at'>
export type JobIndexRow = Pick<JobRow, 'id' | 'kind' | 'status' | 'created_at' | 'started_at' | 'ended_at' | 'next_attempt_at'>

/**
 * Reads of the operator views (housler.queue_stats, workers, failed_jobs, throughput, jobs) on `db`,
 * which may be a replica; the bulk writes (requeue, empty) select and write on the primary.
 */
export function createMonitoring(db: Kysely<Database>, lifecycle: LifecycleDeps) {
  return {
    async queueStats(): Promise<QueueStatRow[]> {
      const result = await sql<QueueStatRow>`SELECT kind, status, jobs FROM housler.queue_stats WHERE status <> 'expired' ORDER BY kind, status`.execute(db)
      return result.rows
    },
    async workers(): Promise<WorkerRow[]> {
      const result = await sql<WorkerRow>`
        SELECT id, host, pid, version, kinds, concurrency, state, current_jobs::text[] AS current_jobs, finished_count, failed_count,
          started_at, last_heartbeat_at, extract(epoch FROM heartbeat_age)::float8 AS heartbeat_age_seconds
        FROM housler.workers ORDER BY state = 'dead', host, pid`.execute(db)
      return result.rows
    },
    async liveWorkerCount(): Promise<number> {
      const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.workers WHERE state <> 'dead'`.execute(db)
      return result.rows[0].n
    },
    async failed(options: { kind?: string; limit?: number } = {}): Promise<FailedJobRow[]> {
      const result = await sql<FailedJobRow>`
        SELECT id, kind, session_id, attempts, error, stack, ended_at FROM housler.failed_jobs
        WHERE (${options.kind ?? null}::text IS NULL OR kind = ${options.kind ?? null})
        ORDER BY ended_at DESC NULLS LAST LIMIT ${options.limit ?? 100}`.execute(db)
      return result.rows
    },
    /** One page of housler.jobs, newest first; filters are optional. */
    async jobs(filter: { status?: string; kind?: string; sessionId?: string; limit: number; offset: number }): Promise<{ rows: JobRow[]; total: number }> {
      const where = sql`(${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? null})
        AND (${filter.kind ?? null}::text IS NULL OR kind = ${filter.kind ?? null})
        AND (${filter.sessionId ?? null}::text IS NULL OR session_id = ${filter.sessionId ?? null})
        AND status <> 'expired'`
      const [rows, total] = await Promise.all([
        sql<JobRow>`SELECT * FROM housler.jobs WHERE ${where} ORDER BY created_at DESC, id LIMIT ${filter.limit} OFFSET ${filter.offset}`.execute(db),
        sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.jobs WHERE ${where}`.execute(db),
      ])
      return { rows: rows.rows, total: total.rows[0].n }
    },
    /** Ids and times of live jobs (one status and kind, or all), oldest first: the RQ adapter's lists and registries. */
    async jobIndex(filter: { status?: string; kind?: string; limit: number }): Promise<JobIndexRow[]> {
      const result = await sql<JobIndexRow>`
        SELECT id, kind, status, created_at, started_at, ended_at, next_attempt_at FROM housler.jobs
        WHERE status <> 'expired' AND (${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? null})
          AND (${filter.kind ?? null}::text IS NULL OR kind = ${filter.kind ?? null})
        ORDER BY created_at, id LIMIT ${filter.limit}`.execute(db)
      return result.rows
    },
    /** Jobs finished and failed per minute over the last `minutes`, all kinds together, gaps filled. */
    async throughput(minutes = 30): Promise<ThroughputRow[]> {
      const result = await sql<ThroughputRow>`
        WITH m AS (SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => ${minutes - 1}), date_trunc('minute', now()), interval '1 minute') AS minute)
        SELECT m.minute, coalesce(sum(t.finished), 0)::int AS finished, coalesce(sum(t.failed), 0)::int AS failed,
          max(t.wait_p50_seconds) AS wait_p50_seconds, max(t.run_p50_seconds) AS run_p50_seconds
        FROM m LEFT JOIN housler.throughput t ON t.minute = m.minute
        GROUP BY m.minute ORDER BY m.minute`.execute(db)
      return result.rows
    },
    /** Requeues every failed job (of one kind, or all); returns their ids. */
    async requeueFailed(kind?: string): Promise<string[]> {
      const failed = await sql<{ id: string }>`
        SELECT id FROM housler.failed_jobs WHERE (${kind ?? null}::text IS NULL OR kind = ${kind ?? null})`.execute(lifecycle.db)
      for (const row of failed.rows) await requeueJob(lifecycle, row.id)
      return failed.rows.map((row) => row.id)
    },
    /** RQ's `empty`: deletes every job of a kind still waiting to run (queued, scheduled, deferred). */
    async emptyQueue(kind: string): Promise<number> {
      const waiting = await sql<{ id: string; kind: string }>`
        SELECT id, kind FROM housler.jobs WHERE kind = ${kind} AND status IN ('queued', 'scheduled', 'deferred')`.execute(lifecycle.db)
      await expireJobs(lifecycle, waiting.rows)
      return waiting.rows.length
    },
  }
}

export type Monitoring = ReturnType<typeof createMonitoring>

/** Database reachable, pg-boss schema version, pending migrations — without starting pg-boss or migrating. */
export async function readSchemaState(db: Kysely<Database>): Promise<{ pgBossSchemaVersion: number | null; pendingMigrations: string[] }> {
  const version = await sql<{ version: number }>`SELECT version FROM pgboss.version`.execute(db).then(
    (result) => result.rows[0]?.version ?? null,
    () => null,
  )
  return { pgBossSchemaVersion: version, pendingMigrations: await pendingMigrations(db) }
}
