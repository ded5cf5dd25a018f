import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'

export type StatusCounts = {
  queued_jobs: number
  started_jobs: number
  finished_jobs: number
  failed_jobs: number
  deferred_jobs: number
  scheduled_jobs: number
  canceled_jobs: number
}

export type QueueStats = StatusCounts & { by_kind: Record<string, StatusCounts> }

const EMPTY: StatusCounts = {
  queued_jobs: 0,
  started_jobs: 0,
  finished_jobs: 0,
  failed_jobs: 0,
  deferred_jobs: 0,
  scheduled_jobs: 0,
  canceled_jobs: 0,
}

/** RQ's registries counted per kind, with the RQ↔pg-boss mapping of the research notes §2.16. */
export async function computeStats(db: Kysely<Database>, kinds: string[]): Promise<QueueStats> {
  const result = await sql<{ kind: string } & StatusCounts>`
    SELECT name AS kind,
      count(*) FILTER (WHERE state IN ('created', 'retry') AND NOT blocked AND start_after <= now())::int AS queued_jobs,
      count(*) FILTER (WHERE state = 'active')::int AS started_jobs,
      count(*) FILTER (WHERE state = 'completed')::int AS finished_jobs,
      count(*) FILTER (WHERE state = 'failed')::int AS failed_jobs,
      count(*) FILTER (WHERE state IN ('created', 'retry') AND blocked)::int AS deferred_jobs,
      count(*) FILTER (WHERE state IN ('created', 'retry') AND NOT blocked AND start_after > now())::int AS scheduled_jobs,
      count(*) FILTER (WHERE state = 'cancelled')::int AS canceled_jobs
    FROM pgboss.job WHERE name = ANY(${kinds}::text[]) GROUP BY name`.execute(db)
  const byKind: Record<string, StatusCounts> = Object.fromEntries(kinds.map((kind) => [kind, { ...EMPTY }]))
  const total: StatusCounts = { ...EMPTY }
  for (const row of result.rows) {
    const { kind, ...counts } = row
    byKind[kind] = counts
    for (const key of Object.keys(EMPTY) as Array<keyof StatusCounts>) total[key] += counts[key]
  }
  return { ...total, by_kind: byKind }
}

/**
 * Counting pgboss.job is a scan of every retained job (≈0.3 s at a million), so requests never
 * count: they get a snapshot at most `maxAgeMs` old. A stale snapshot is answered at once and
 * refreshed in the background (one refresh at a time); only the very first request waits.
 */
export function createStatsCache(load: () => Promise<QueueStats>, maxAgeMs = 1000) {
  let snapshot: { at: number; value: QueueStats } | undefined
  let refreshing: Promise<QueueStats> | undefined

  function refresh(): Promise<QueueStats> {
    refreshing ??= load()
      .then((value) => {
        snapshot = { at: Date.now(), value }
        return value
      })
      .finally(() => {
        refreshing = undefined
      })
    return refreshing
  }

  return {
    async get(): Promise<QueueStats> {
      if (!snapshot) return refresh()
      if (Date.now() - snapshot.at > maxAgeMs) refresh().catch(() => {})
      return snapshot.value
    },
    /** After a state change the caller made itself (cancel, delete), the next read is fresh. */
    invalidate(): void {
      snapshot = undefined
    },
  }
}
