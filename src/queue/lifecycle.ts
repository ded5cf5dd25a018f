import type pg from 'pg'
import { sql, type Kysely } from 'kysely'
import { fromKysely, type PgBoss } from 'pg-boss'
import { AppError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { TaskDefinition } from '../tasks/types.ts'
import { WEBHOOK_STATE_COLUMNS, WEBHOOK_STATE_JOIN, type WebhookStateRow } from '../webhooks/index.ts'
import { forgetChildren, forgetOrphanChildren } from './children.ts'
import { CHANNELS } from './listener.ts'
import { findJobsPastTtl } from './pg-boss-internals.ts'
import { TERMINAL_STATUSES, type JobRow } from './status.ts'

export type LifecycleDeps = {
  db: Kysely<Database>
  boss: PgBoss
  tasks: ReadonlyMap<string, TaskDefinition>
}

export async function findJob(db: Kysely<Database>, jobId: string): Promise<JobRow | undefined> {
  const result = await sql<JobRow>`SELECT * FROM housler.jobs WHERE id = ${jobId}`.execute(db)
  return result.rows[0]
}

/** The columns the status endpoint shows: no payload, no stack. */
const STATUS_COLUMNS =
  'id, kind, status, priority, progress, message, session_id, created_at, started_at, ended_at, attempts, max_attempts, next_attempt_at, result, error, error_code, depends_on'

/**
 * The status read, the hottest query of the service (every poller, every 2 s): a named prepared
 * statement, so Postgres plans the view's two primary-key lookups once per connection.
 */
export async function findJobStatus(pool: pg.Pool, jobId: string): Promise<(JobRow & WebhookStateRow) | undefined> {
  const result = await pool.query<JobRow & WebhookStateRow>({
    name: 'housler_job_status',
    text: `SELECT ${STATUS_COLUMNS.split(', ').map((column) => `j.${column}`).join(', ')}, ${WEBHOOK_STATE_COLUMNS}
      FROM housler.jobs j ${WEBHOOK_STATE_JOIN} WHERE j.id = $1`,
    values: [jobId],
  })
  return result.rows[0]
}

export async function getJob(db: Kysely<Database>, jobId: string): Promise<JobRow> {
  return assertLive(await findJob(db, jobId), jobId)
}

/** A missing row was never enqueued; a tombstone has expired. Both are 404s with different words. */
export function assertLive<R extends JobRow>(row: R | undefined, jobId: string): R {
  if (!row) throw new AppError('JobNotFound', `No job with id ${jobId} was ever enqueued`, { details: { job_id: jobId } })
  if (row.status === 'expired') {
    throw new AppError('JobExpired', `Job ${jobId} has expired: its result was kept for its TTL and then deleted`, {
      details: { job_id: jobId },
    })
  }
  return row
}

/**
 * Ends every job that waits (directly or transitively) on `parentId`, which will never finish.
 * RQ leaves such jobs deferred forever; we cancel them with the reason, so no poller waits in vain.
 */
export async function cancelDependents(deps: LifecycleDeps, parentId: string, parentStatus: string): Promise<string[]> {
  const canceled: string[] = []
  let frontier = [parentId]
  while (frontier.length > 0) {
    const rows = await sql<{ job_id: string; kind: string; parent: string }>`
      SELECT t.job_id, t.kind, p.parent FROM housler._tasks t, unnest(t.depends_on) AS p(parent)
      WHERE t.depends_on && ${frontier}::uuid[] AND p.parent = ANY(${frontier}::uuid[]) AND t.expired_at IS NULL`.execute(deps.db)
    const next: string[] = []
    for (const row of rows.rows) {
      if (canceled.includes(row.job_id)) continue
      const reason = `Canceled: job ${row.parent} that this job depends on ${row.parent === parentId ? parentStatus : 'was canceled'}`
      const ended = await cancelOne(deps, row.job_id, row.kind, reason)
      if (ended) {
        canceled.push(row.job_id)
        next.push(row.job_id)
      }
    }
    frontier = next
  }
  return canceled
}

async function cancelOne(deps: LifecycleDeps, jobId: string, kind: string, reason: string): Promise<boolean> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await findJob(trx, jobId)
    if (!row || row.status === 'expired' || TERMINAL_STATUSES.has(row.status)) return false
    await trx.updateTable('housler._tasks').set({ cancel_reason: reason, updated_at: new Date() }).where('job_id', '=', jobId).execute()
    await deps.boss.cancel(kind, jobId, { db: fromKysely(trx) })
    await sql`SELECT pg_notify(${CHANNELS.cancel}, ${jobId}), pg_notify(${CHANNELS.status}, ${jobId})`.execute(trx)
    return true
  })
}

/** Cancels a queued, scheduled, deferred or running job; a running handler's signal fires. */
export async function cancelJob(deps: LifecycleDeps, jobId: string, reason = 'Canceled by request'): Promise<JobRow> {
  const row = await getJob(deps.db, jobId)
  if (TERMINAL_STATUSES.has(row.status)) {
    throw new AppError('InvalidState', `Job ${jobId} is already ${row.status} and cannot be canceled`, {
      details: { job_id: jobId, status: row.status },
    })
  }
  await cancelOne(deps, jobId, row.kind, reason)
  await cancelDependents(deps, jobId, 'was canceled')
  return getJob(deps.db, jobId)
}

/** RQ's requeue: a failed (or canceled) job runs again with a fresh retry budget. */
export async function requeueJob(deps: LifecycleDeps, jobId: string): Promise<JobRow> {
  const row = await getJob(deps.db, jobId)
  if (row.status !== 'failed' && row.status !== 'canceled') {
    throw new AppError('InvalidState', `Only failed or canceled jobs can be requeued; job ${jobId} is ${row.status}`, {
      details: { job_id: jobId, status: row.status },
    })
  }
  const task = deps.tasks.get(row.kind)
  const maxAttempts = task?.retry.maxAttempts ?? 1
  await deps.db.transaction().execute(async (trx) => {
    const adapter = fromKysely(trx)
    const [job] = await deps.boss.findJobs<Record<string, unknown>>(row.kind, { id: jobId, db: adapter })
    if (!job) throw new AppError('JobNotFound', `Job ${jobId} is gone from the queue`)
    if (row.status === 'canceled' && job.state === 'cancelled') {
      await deps.boss.resume(row.kind, jobId, { db: adapter })
    } else if (job.state === 'failed') {
      await deps.boss.retry(row.kind, jobId, { db: adapter })
    }
    // A job settling a permanent failure may still be pg-boss "retry"; either way it is now claimable.
    const { permanentError: _dropped, ...data } = job.data
    await deps.boss.update(row.kind, data, {
      id: jobId,
      startAfter: new Date(),
      retryLimit: job.retryCount + maxAttempts,
      db: adapter,
    })
    await trx
      .updateTable('housler._tasks')
      .set({
        permanent_error: null,
        cancel_reason: null,
        progress: 0,
        message: null,
        // pg-boss numbers attempts retry_count + 1, a permanent failure's settling claim included: the
        // limit shown is the one pg-boss enforces, so attempts never exceed it.
        max_attempts: job.retryCount + maxAttempts + 1,
        updated_at: new Date(),
      })
      .where('job_id', '=', jobId)
      .execute()
    await sql`SELECT pg_notify(${CHANNELS.jobs}, ${row.kind}), pg_notify(${CHANNELS.status}, ${jobId})`.execute(trx)
  })
  return getJob(deps.db, jobId)
}

/** Deletes a job and its data; its id then answers 404 "expired or deleted". */
export async function deleteJob(deps: LifecycleDeps, jobId: string): Promise<void> {
  const row = await getJob(deps.db, jobId)
  if (row.status === 'started') {
    throw new AppError('InvalidState', `Job ${jobId} is running; cancel it first`, { details: { job_id: jobId } })
  }
  await expireJobs(deps, [{ id: jobId, kind: row.kind }])
}

/** Turns jobs into tombstones: our row keeps only its id and kind, the pg-boss job and its child links are deleted. */
export async function expireJobs(deps: LifecycleDeps, jobs: Array<{ id: string; kind: string }>): Promise<void> {
  if (jobs.length === 0) return
  await deps.db.transaction().execute(async (trx) => {
    const ids = jobs.map((job) => job.id)
    await forgetChildren(trx, ids)
    await trx
      .updateTable('housler._tasks')
      .set({ expired_at: new Date(), payload: '{}', message: null, permanent_error: null, updated_at: new Date() })
      .where('job_id', 'in', ids)
      .execute()
    const adapter = fromKysely(trx)
    for (const [kind, group] of Map.groupBy(jobs, (job) => job.kind)) {
      await deps.boss.deleteJob(kind, group.map((job) => job.id), { db: adapter })
    }
    // Every process's status cache drops these bodies (src/queue/status-cache.ts).
    await sql`SELECT pg_notify(${CHANNELS.status}, id::text) FROM unnest(${ids}::uuid[]) AS id`.execute(trx)
  })
}

const TOMBSTONE_DAYS = 7
const CLEANUP_BATCH = 1000

/**
 * Enforces RQ_RESULT_TTL (finished jobs) and RQ_FAILURE_TTL (failed and canceled jobs) to the
 * minute; pg-boss's own deletion runs daily. Also ends dependents whose parent can never finish,
 * drops tombstones after a week (until then an old id answers "expired", not "never existed"), and
 * child links whose parent is no live job.
 */
export async function runCleanup(
  deps: LifecycleDeps,
  ttl: { resultTtlSeconds: number; failureTtlSeconds: number },
): Promise<{ expired: number; orphansCanceled: number }> {
  let expired = 0
  for (;;) {
    const due = await findJobsPastTtl(deps.db, ttl, CLEANUP_BATCH)
    const ours = due.filter((row) => deps.tasks.has(row.kind))
    await expireJobs(deps, ours)
    expired += ours.length
    if (due.length < CLEANUP_BATCH) break
  }
  const orphans = await sql<{ parent: string; status: string }>`
    SELECT DISTINCT p.id AS parent, p.status FROM housler._tasks t
    JOIN housler.jobs c ON c.id = t.job_id
    JOIN housler.jobs p ON p.id = ANY(t.depends_on)
    WHERE t.depends_on <> '{}' AND t.expired_at IS NULL AND c.status = 'deferred'
      AND p.status IN ('failed', 'canceled', 'expired')`.execute(deps.db)
  let orphansCanceled = 0
  for (const orphan of orphans.rows) {
    orphansCanceled += (await cancelDependents(deps, orphan.parent, orphan.status)).length
  }
  await sql`DELETE FROM housler._tasks WHERE expired_at < now() - make_interval(days => ${TOMBSTONE_DAYS})`.execute(deps.db)
  await forgetOrphanChildren(deps.db)
  return { expired, orphansCanceled }
}

/** Requeues every failed job (of one kind, or all); returns their ids. */
export async function requeueFailed(deps: LifecycleDeps, kind?: string): Promise<string[]> {
  const failed = await sql<{ id: string }>`
    SELECT id FROM housler.failed_jobs WHERE (${kind ?? null}::text IS NULL OR kind = ${kind ?? null})`.execute(deps.db)
  for (const row of failed.rows) await requeueJob(deps, row.id)
  return failed.rows.map((row) => row.id)
}

/** RQ's `empty`: deletes every job of a kind still waiting to run (queued, scheduled, deferred). */
export async function emptyQueue(deps: LifecycleDeps, kind: string): Promise<number> {
  const waiting = await sql<{ id: string; kind: string }>`
    SELECT id, kind FROM housler.jobs WHERE kind = ${kind} AND status IN ('queued', 'scheduled', 'deferred')`.execute(deps.db)
  await expireJobs(deps, waiting.rows)
  return waiting.rows.length
}
