import type { Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import { countJobsByStatus } from './pg-boss-internals.ts'
import type { Status } from './status.ts'

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

const COUNT_KEY: Record<Status, keyof StatusCounts> = {
  queued: 'queued_jobs',
  started: 'started_jobs',
  finished: 'finished_jobs',
  failed: 'failed_jobs',
  deferred: 'deferred_jobs',
  scheduled: 'scheduled_jobs',
  canceled: 'canceled_jobs',
}

/** RQ's registries counted per kind, in the status words of housler.jobs (one SQL mapping for both). */
export async function computeStats(db: Kysely<Database>, kinds: string[]): Promise<QueueStats> {
  const rows = await countJobsByStatus(db, kinds)
  const byKind: Record<string, StatusCounts> = Object.fromEntries(kinds.map((kind) => [kind, { ...EMPTY }]))
  const total: StatusCounts = { ...EMPTY }
  for (const row of rows) {
    const key = COUNT_KEY[row.status as Status]
    if (!key) continue
    byKind[row.kind][key] += row.jobs
    total[key] += row.jobs
  }
  return { ...total, by_kind: byKind }
}

/**
 * Counting the jobs is a scan of every retained job (≈0.3 s at a million), so requests never
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
