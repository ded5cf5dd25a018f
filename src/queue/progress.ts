import type pg from 'pg'
import { coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { CHANNELS } from './listener.ts'

type Update = { progress: number; message: string | null }

export type ProgressWriter = {
  /** Records progress; resolves when it (or a newer update of the same job) is stored. */
  write(jobId: string, progress: number, message: string | null): Promise<void>
  /** Tells push subscribers that a job changed state (started, finished, failed, canceled). */
  notify(jobId: string): void
  /** Resolves when everything queued so far is written. */
  flush(): Promise<void>
}

/**
 * Progress is ephemeral, so it is coalesced and written without waiting for a durable commit:
 * every update queued while a write is in flight is merged (latest per job wins) into the next
 * single UPDATE, whose transaction runs with synchronous_commit off (set_config local to it, so it
 * holds through a transaction pooler and leaks to no other statement). A crash can lose the last
 * fraction of a second of progress messages; the job itself, its result and its state live in
 * pg-boss, durable.
 */
export function createProgressWriter(pool: pg.Pool, log: Logger): ProgressWriter {
  let pending = new Map<string, Update>()
  let pendingNotify = new Set<string>()
  let waiters: Array<() => void> = []
  let flushing: Promise<void> | undefined

  async function flushOnce(): Promise<void> {
    const updates = pending
    const notifies = pendingNotify
    const done = waiters
    pending = new Map()
    pendingNotify = new Set()
    waiters = []
    try {
      if (updates.size > 0) {
        const ids = [...updates.keys()]
        const values = [...updates.values()]
        // Named: one text for every write, planned once per connection.
        await pool.query({
          name: 'housler_progress',
          text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
                v AS (SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::text[]) AS v(job_id, progress, message)),
                u AS (UPDATE housler._tasks t SET progress = v.progress, message = v.message, updated_at = now()
                      FROM v WHERE t.job_id = v.job_id RETURNING t.job_id)
           SELECT count(pg_notify('${CHANNELS.status}', u.job_id::text)) FROM u, lazy`,
          values: [ids, values.map((value) => value.progress), values.map((value) => value.message)],
        })
      }
      const onlyNotify = [...notifies].filter((id) => !updates.has(id))
      if (onlyNotify.length > 0) {
        await pool.query({
          name: 'housler_status_notify',
          text: `SELECT count(pg_notify('${CHANNELS.status}', id)) FROM unnest($1::text[]) AS id`,
          values: [onlyNotify],
        })
      }
    } catch (e) {
      // Losing a progress message is acceptable; failing the job over it is not.
      log.warn({ err: coerceError(e).message }, 'progress write failed')
    } finally {
      for (const resolve of done) resolve()
    }
  }

  function schedule(): Promise<void> {
    const settled = new Promise<void>((resolve) => waiters.push(resolve))
    if (!flushing) {
      flushing = (async () => {
        // Written at the end of this event-loop turn, not inside the caller's: a job's start and a
        // handler's step never pay for building the statement, and the whole turn's updates share it.
        await new Promise((resolve) => setImmediate(resolve))
        while (pending.size > 0 || pendingNotify.size > 0) await flushOnce()
        flushing = undefined
      })()
    }
    return settled
  }

  return {
    write(jobId, progress, message) {
      pending.set(jobId, { progress: Math.max(0, Math.min(100, Math.round(progress))), message })
      return schedule()
    },
    notify(jobId) {
      pendingNotify.add(jobId)
      void schedule()
    },
    async flush() {
      if (pending.size > 0 || pendingNotify.size > 0) await schedule()
      await flushing
    },
  }
}
