import { randomUUID } from 'node:crypto'
import { sql, type Kysely, type Transaction } from 'kysely'
import { fromKysely, type PgBoss } from 'pg-boss'
import { AppError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { TaskDefinition } from '../tasks/types.ts'
import { insertSubscriptions, type WebhookSubscription } from '../webhooks/outbox.ts'
import { findReusable, recordKeys, type IdempotencyClaim } from './idempotency.ts'
import { CHANNELS } from './listener.ts'
import { PG_BOSS_PRIORITY, type Priority } from './status.ts'

export type EnqueueRequest = {
  kind: string
  payload: unknown
  sessionId?: string | null
  priority?: Priority
  /** Run no earlier than this (RQ enqueue_at / enqueue_in): the job is `scheduled` until then. */
  runAt?: Date
  /** POST the job's end to this URL (checked by the caller against the address rules). */
  webhook?: WebhookSubscription
  /** Idempotency-Key: the same claim within 24 h returns the first job. */
  idempotency?: IdempotencyClaim
}

/** reused: an existing job answered this request (same Idempotency-Key, or the kind's dedupeKey). */
export type EnqueueOutcome = { jobId: string; reused: boolean }

export type FlowStep = EnqueueRequest & { ref: string; dependsOn?: string[] }

export type EnqueueDeps = {
  db: Kysely<Database>
  boss: PgBoss
  tasks: ReadonlyMap<string, TaskDefinition>
}

export function findTask(tasks: ReadonlyMap<string, TaskDefinition>, kind: string): TaskDefinition {
  const task = tasks.get(kind)
  if (!task) throw new AppError('ValidationFailed', `Unknown task kind "${kind}"`, { details: { kind } })
  return task
}

/** Validates a payload against its kind's schema: bad input never reaches the queue. */
export function validatePayload(task: TaskDefinition, payload: unknown): unknown {
  const parsed = task.payload.safeParse(payload)
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `Invalid payload for task "${task.kind}"`, {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    })
  }
  return parsed.data
}

type Prepared = { jobId: string; task: TaskDefinition; request: EnqueueRequest; payload: unknown }

function prepare(tasks: EnqueueDeps['tasks'], request: EnqueueRequest): Prepared {
  const task = findTask(tasks, request.kind)
  return { jobId: randomUUID(), task, request, payload: validatePayload(task, request.payload) }
}

async function insertTaskRows(trx: Transaction<Database>, items: Prepared[], dependsOn: Map<string, string[]>) {
  await trx
    .insertInto('housler._tasks')
    .values(
      items.map((item) => ({
        job_id: item.jobId,
        kind: item.task.kind,
        session_id: item.request.sessionId ?? null,
        priority: item.request.priority ?? 'normal',
        payload: JSON.stringify(item.payload),
        max_attempts: item.task.retry.maxAttempts,
        depends_on: dependsOn.get(item.jobId) ?? [],
        permanent_error: null,
        cancel_reason: null,
        message: null,
        expired_at: null,
      })),
    )
    .execute()
}

async function notifyKinds(trx: Transaction<Database>, kinds: Iterable<string>) {
  // Delivered on commit, so a worker never wakes for a job it cannot see yet.
  for (const kind of new Set(kinds)) await sql`SELECT pg_notify(${CHANNELS.jobs}, ${kind})`.execute(trx)
}

function jobData(item: Prepared, dependsOn: string[] = [], hasDependents = false) {
  return { payload: item.payload, sessionId: item.request.sessionId ?? null, dependsOn, hasDependents }
}

function jobOptions(item: Prepared) {
  return {
    id: item.jobId,
    priority: PG_BOSS_PRIORITY[item.request.priority ?? 'normal'],
    ...(item.request.runAt ? { startAfter: item.request.runAt } : {}),
  }
}

/**
 * Enqueues jobs, each as our task row plus its pg-boss job, all in ONE transaction:
 * a crash leaves either every row or none.
 */
export async function enqueueMany(deps: EnqueueDeps, requests: EnqueueRequest[]): Promise<string[]> {
  return (await enqueueWithOutcome(deps, requests)).map((outcome) => outcome.jobId)
}

export async function enqueueWithOutcome(deps: EnqueueDeps, requests: EnqueueRequest[]): Promise<EnqueueOutcome[]> {
  const items = requests.map((request) => prepare(deps.tasks, request))
  const candidates = items.map((item) => ({ ...item, idempotency: item.request.idempotency }))
  let reused: Awaited<ReturnType<typeof findReusable>> = new Map()
  await deps.db.transaction().execute(async (trx) => {
    reused = await findReusable(trx, candidates)
    const fresh = items.filter((item) => !reused.has(item.jobId))
    if (fresh.length > 0) {
      await insertTaskRows(trx, fresh, new Map())
      const adapter = fromKysely(trx)
      const byKind = Map.groupBy(fresh, (item) => item.task.kind)
      for (const [kind, group] of byKind) {
        if (group.length === 1) {
          await deps.boss.send(kind, jobData(group[0]), { ...jobOptions(group[0]), db: adapter })
        } else {
          await deps.boss.insert(
            kind,
            group.map((item) => ({ data: jobData(item), ...jobOptions(item) })),
            { db: adapter },
          )
        }
      }
      await insertWebhooks(trx, fresh)
      await notifyKinds(trx, byKind.keys())
    }
    await recordKeys(trx, candidates, reused)
  })
  return items.map((item) => ({ jobId: reused.get(item.jobId)?.jobId ?? item.jobId, reused: reused.has(item.jobId) }))
}

async function insertWebhooks(trx: Transaction<Database>, items: Prepared[]) {
  const rows = items.flatMap((item) => (item.request.webhook ? [{ jobId: item.jobId, ...item.request.webhook }] : []))
  if (rows.length > 0) await insertSubscriptions(trx, rows)
}

/**
 * Enqueues a graph of jobs (RQ depends_on, pg-boss flow) atomically. A step waits `deferred`
 * until every step it depends on has finished; returns job ids by ref.
 */
export async function enqueueFlow(deps: EnqueueDeps, steps: FlowStep[]): Promise<Record<string, string>> {
  const refs = new Set(steps.map((step) => step.ref))
  for (const step of steps) {
    for (const parent of step.dependsOn ?? []) {
      if (!refs.has(parent) || parent === step.ref) {
        throw new AppError('ValidationFailed', `Step "${step.ref}" depends on unknown step "${parent}"`)
      }
    }
  }
  const items = steps.map((step) => ({ ...prepare(deps.tasks, step), step }))
  const idByRef = new Map(items.map((item) => [item.step.ref, item.jobId]))
  const dependsOn = new Map(items.map((item) => [item.jobId, (item.step.dependsOn ?? []).map((ref) => idByRef.get(ref)!)]))
  const parents = new Set([...dependsOn.values()].flat())
  await deps.db.transaction().execute(async (trx) => {
    await insertTaskRows(trx, items, dependsOn)
    await deps.boss.flow(
      items.map((item) => ({
        ref: item.step.ref,
        name: item.task.kind,
        data: jobData(item, dependsOn.get(item.jobId), parents.has(item.jobId)),
        options: jobOptions(item),
        dependsOn: item.step.dependsOn ?? [],
      })),
      { db: fromKysely(trx) },
    )
    await insertWebhooks(trx, items)
    await notifyKinds(trx, items.filter((item) => (dependsOn.get(item.jobId) ?? []).length === 0).map((item) => item.task.kind))
  })
  return Object.fromEntries(idByRef)
}
