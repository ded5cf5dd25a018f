import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import { pendingMigrations, readReplicaLagSeconds } from '../db/index.ts'
import { findJob } from './lifecycle.ts'
import { readPgBossSchemaVersion } from './pg-boss-internals.ts'
import { computeStats, createStatsCache, type QueueStats } from './stats.ts'
import type { JobRow } from './status.ts'

/** A row of housler.proxy_health. */
export type ProxyHealthRow = {
  proxy: string
  workers: number
  successes: number
  failures: number
  captchas: number
  latency_ms: number | null
  cooling_until: Date | null
  workers_cooling: number
}

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

export type GroupCommitCounts = { groups: number; requests: number }

/** Read-only views of the queue for operators: the dashboard, the CLI, /readyz, metrics, the RESP adapter. */
export interface Monitoring {
  /** Database reachable (throws if not), pg-boss schema version, our pending migrations. */
  ping(): Promise<{ database: true; pgBossSchemaVersion: number | null; pendingMigrations: string[] }>
  /** GET /queue-stats: a snapshot at most ~1 s old (a count scans every retained job); `fresh` counts now. */
  stats(options?: { fresh?: boolean }): Promise<QueueStats>
  /** housler.queue_stats: jobs per kind and RQ status (no expired). */
  queueStats(): Promise<QueueStatRow[]>
  workers(): Promise<WorkerRow[]>
  liveWorkerCount(): Promise<number>
  failed(options?: { kind?: string; limit?: number }): Promise<FailedJobRow[]>
  /** One row of housler.jobs (payload and stack included), or undefined. */
  findJob(jobId: string): Promise<JobRow | undefined>
  /** One page of housler.jobs, newest first; filters are optional. */
  jobs(filter: { status?: string; kind?: string; sessionId?: string; limit: number; offset: number }): Promise<{ rows: JobRow[]; total: number }>
  /** Ids and times of live jobs (one status and kind, or all), oldest first: the RQ adapter's lists and registries. */
  jobIndex(filter: { status?: string; kind?: string; limit: number }): Promise<JobIndexRow[]>
  /** Jobs finished and failed per minute over the last `minutes`, all kinds together, gaps filled. */
  throughput(minutes?: number): Promise<ThroughputRow[]>
  /** Enqueue group commit so far in this process: groups written and requests in them. */
  groupCommit(): GroupCommitCounts
  /** housler.proxy_health: each proxy summed over the live workers. */
  proxyHealth(): Promise<ProxyHealthRow[]>
  /** True when these reads come from a replica (DATABASE_READ_URL), which may lag the primary. */
  readonly readsReplica: boolean
  /** Seconds the replica trails the primary: undefined without one, null if the read server is no replica. */
  replicaLagSeconds(): Promise<number | null | undefined>
}

/**
 * Reads of the operator views (housler.queue_stats, workers, failed_jobs, throughput, jobs) on
 * `endpoints.read`, which may be a replica; the readiness ping goes to the primary.
 */
export function createMonitoring(
  endpoints: { primary: Kysely<Database>; read: Kysely<Database>; replica: boolean },
  kinds: readonly string[],
  groupCommit: () => GroupCommitCounts,
): Monitoring {
  const db = endpoints.read
  const statsCache = createStatsCache(() => computeStats(db, [...kinds]))
  return {
    async ping() {
      await sql`SELECT 1`.execute(endpoints.primary)
      return { database: true, ...(await readSchemaState(endpoints.primary)) }
    },
    readsReplica: endpoints.replica,
    replicaLagSeconds: async () => (endpoints.replica ? readReplicaLagSeconds(db) : undefined),
    stats: (options = {}) => (options.fresh ? computeStats(db, [...kinds]) : statsCache.get()),
    // A job just enqueued may not be on a lagging replica yet: one-job reads go to the primary.
    findJob: (jobId) => findJob(endpoints.primary, jobId),
    groupCommit,
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
    async proxyHealth(): Promise<ProxyHealthRow[]> {
      const result = await sql<ProxyHealthRow>`
        SELECT proxy, workers, successes::float8 AS successes, failures::float8 AS failures, captchas::float8 AS captchas,
          latency_ms, cooling_until, workers_cooling
        FROM housler.proxy_health ORDER BY proxy`.execute(db)
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
    async jobIndex(filter: { status?: string; kind?: string; limit: number }): Promise<JobIndexRow[]> {
      const result = await sql<JobIndexRow>`
        SELECT id, kind, status, created_at, started_at, ended_at, next_attempt_at FROM housler.jobs
        WHERE status <> 'expired' AND (${filter.status ?? null}::text IS NULL OR status = ${filter.status ?? null})
          AND (${filter.kind ?? null}::text IS NULL OR kind = ${filter.kind ?? null})
        ORDER BY created_at, id LIMIT ${filter.limit}`.execute(db)
      return result.rows
    },
    async throughput(minutes = 30): Promise<ThroughputRow[]> {
      const result = await sql<ThroughputRow>`
        WITH m AS (SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => ${minutes - 1}), date_trunc('minute', now()), interval '1 minute') AS minute)
        SELECT m.minute, coalesce(sum(t.finished), 0)::int AS finished, coalesce(sum(t.failed), 0)::int AS failed,
          max(t.wait_p50_seconds) AS wait_p50_seconds, max(t.run_p50_seconds) AS run_p50_seconds
        FROM m LEFT JOIN housler.throughput t ON t.minute = m.minute
        GROUP BY m.minute ORDER BY m.minute`.execute(db)
      return result.rows
    },
  }
}

/** Database reachable, pg-boss schema version, pending migrations — without starting pg-boss or migrating. */
export async function readSchemaState(db: Kysely<Database>): Promise<{ pgBossSchemaVersion: number | null; pendingMigrations: string[] }> {
  const version = await readPgBossSchemaVersion(db)
  return { pgBossSchemaVersion: version, pendingMigrations: await pendingMigrations(db) }
}
