/**
 * @module Child jobs: a running job's capability to run other jobs (find-similar's parse jobs for its
 * analogs' pages) through the queue's own enqueue, at most N at a time, and wait for them. Children
 * are linked in housler._task_children: the parent's status counts them, canceling it cancels them,
 * and the links go when the parent expires.
 */
import { sql, type Kysely } from 'kysely'
import { AppError, coerceError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { Logger } from '../log.ts'
import type { ChildJobs, ChildOutcome, ChildRequest } from '../tasks/services.ts'
import type { EnqueueRequest } from './enqueue.ts'
import { CHANNELS, type Listener } from './listener.ts'

export type ChildCounts = { total: number; finished: number; failed: number }

type ChildDeps = {
  db: Kysely<Database>
  enqueue(requests: EnqueueRequest[]): Promise<string[]>
  cancel(jobId: string, reason: string): Promise<unknown>
  listener: Listener
  log: Logger
}

/** Between status notifications, look anyway this often (a notification lost in a reconnect). */
const BACKSTOP_POLL_MS = 1000

type ChildRow = { id: string; status: string; result: unknown; error: string | null }

export function createChildJobs(deps: ChildDeps): ChildJobs {
  // Child job id → the waiter to wake when its status changes.
  const watchers = new Map<string, () => void>()
  deps.listener.on(CHANNELS.status, (jobId) => watchers.get(jobId)?.())

  async function readChildren(ids: readonly string[]): Promise<ChildRow[]> {
    const result = await sql<ChildRow>`SELECT id, status, result, error FROM housler.jobs WHERE id = ANY(${[...ids]}::uuid[])`.execute(deps.db)
    return result.rows
  }

  async function cancelQuietly(jobId: string, reason: string) {
    // Already ended (InvalidState) or gone: nothing to cancel.
    await deps.cancel(jobId, reason).catch((e) => {
      const err = coerceError(e)
      if (!(err instanceof AppError && (err.code === 'InvalidState' || err.code === 'JobNotFound'))) throw err
    })
  }

  return {
    async run(parentJobId, sessionId, requests, options) {
      const outcomes = new Map<string, ChildOutcome>()
      const pending = [...requests]
      const active = new Map<string, ChildRequest>()
      const total = requests.length
      let wake = () => {}
      const deadline = Date.now() + options.waitSeconds * 1000

      const start = async (count: number) => {
        const batch = pending.splice(0, count)
        if (batch.length === 0) return
        const ids = await deps.enqueue(batch.map((r) => ({ kind: r.kind, payload: r.payload, sessionId })))
        await sql`INSERT INTO housler._task_children (child_job_id, parent_job_id, ref)
          SELECT * FROM unnest(${ids}::uuid[], ${ids.map(() => parentJobId)}::uuid[], ${batch.map((r) => r.ref)}::text[])`.execute(deps.db)
        ids.forEach((id, i) => {
          active.set(id, batch[i])
          watchers.set(id, () => wake())
        })
      }

      const settle = (id: string, outcome: ChildOutcome) => {
        active.delete(id)
        watchers.delete(id)
        outcomes.set(outcome.ref, outcome)
        options.onSettled?.(outcomes.size, total)
      }

      const cancelActive = async (reason: string, status: ChildOutcome['status']) => {
        for (const [id, request] of [...active]) {
          await cancelQuietly(id, reason)
          settle(id, { ref: request.ref, jobId: id, status, error: reason })
        }
        for (const request of pending.splice(0)) outcomes.set(request.ref, { ref: request.ref, jobId: null, status, error: reason })
      }

      const waitForChange = () =>
        new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            options.signal.removeEventListener('abort', done)
            resolve()
          }
          const timer = setTimeout(done, Math.min(BACKSTOP_POLL_MS, Math.max(0, deadline - Date.now())))
          wake = done
          options.signal.addEventListener('abort', done, { once: true })
        })

      try {
        await start(options.concurrency)
        while (active.size > 0) {
          if (options.signal.aborted) throw options.signal.reason
          if (Date.now() >= deadline) {
            await cancelActive(`Not finished within ${options.waitSeconds} s`, 'timeout')
            break
          }
          // Armed before reading, so a notification that arrives during the read is not missed.
          const changed = waitForChange()
          let settled = false
          for (const row of await readChildren([...active.keys()])) {
            const request = active.get(row.id)!
            if (row.status === 'finished') settle(row.id, { ref: request.ref, jobId: row.id, status: 'finished', result: row.result })
            else if (row.status === 'failed' || row.status === 'canceled') {
              settle(row.id, { ref: request.ref, jobId: row.id, status: row.status, error: row.error ?? undefined })
            } else if (row.status === 'scheduled' && row.error) {
              // An attempt failed (a block page, a timeout): the parent does not wait out the back-off.
              await cancelQuietly(row.id, `Not retried for the parent job: ${row.error}`)
              settle(row.id, { ref: request.ref, jobId: row.id, status: 'failed', error: row.error })
            } else continue
            settled = true
          }
          if (active.size < options.concurrency) await start(options.concurrency - active.size)
          if (settled) wake()
          else await changed
        }
      } catch (e) {
        await cancelActive('The parent job was canceled', 'canceled').catch((err) =>
          deps.log.warn({ err: coerceError(err).message, job_id: parentJobId }, 'could not cancel child jobs'),
        )
        throw e
      } finally {
        for (const id of active.keys()) watchers.delete(id)
      }
      return requests.map((r) => outcomes.get(r.ref) ?? { ref: r.ref, jobId: null, status: 'timeout' as const })
    },
  }
}

/** The parent's view of its children for the status body; undefined when it has none. */
export async function countChildren(db: Kysely<Database>, parentJobId: string): Promise<ChildCounts | undefined> {
  const result = await sql<{ total: number; finished: number; failed: number }>`
    SELECT count(*)::int AS total,
      count(*) FILTER (WHERE j.status = 'finished')::int AS finished,
      count(*) FILTER (WHERE j.status IN ('failed', 'canceled') OR j.id IS NULL)::int AS failed
    FROM housler._task_children c LEFT JOIN housler.jobs j ON j.id = c.child_job_id
    WHERE c.parent_job_id = ${parentJobId}`.execute(db)
  const row = result.rows[0]
  return row && row.total > 0 ? row : undefined
}

/** Cancels a parent's children that have not ended (the parent was canceled). */
export async function cancelChildren(deps: Pick<ChildDeps, 'db' | 'cancel'>, parentJobId: string): Promise<void> {
  const result = await sql<{ id: string }>`
    SELECT j.id FROM housler._task_children c JOIN housler.jobs j ON j.id = c.child_job_id
    WHERE c.parent_job_id = ${parentJobId} AND j.status NOT IN ('finished', 'failed', 'canceled')`.execute(deps.db)
  for (const { id } of result.rows) {
    await deps.cancel(id, 'The parent job was canceled').catch(() => {})
  }
}

/** Drops the child links of parents that expire or are deleted: only their status read them. */
export async function forgetChildren(db: Kysely<Database>, parentJobIds: readonly string[]): Promise<void> {
  await sql`DELETE FROM housler._task_children WHERE parent_job_id = ANY(${[...parentJobIds]}::uuid[])`.execute(db)
}

/** Drops links whose parent is no live job (expired, or its row gone), whatever left them behind. */
export async function forgetOrphanChildren(db: Kysely<Database>): Promise<void> {
  await sql`DELETE FROM housler._task_children c WHERE NOT EXISTS (
    SELECT 1 FROM housler._tasks t WHERE t.job_id = c.parent_job_id AND t.expired_at IS NULL)`.execute(db)
}
