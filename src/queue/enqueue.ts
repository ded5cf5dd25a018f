import { randomUUID } from 'node:crypto'
import type pg from 'pg'
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
  /** The job id chosen by the caller (RQ picks its ids client-side); a fresh UUID when absent. */
  jobId?: string
}

/** reused: an existing job answered this request (same Idempotency-Key, or the kind's dedupeKey). */
export type EnqueueOutcome = { jobId: string; reused: boolean }

export type FlowStep = EnqueueRequest & { ref: string; dependsOn?: string[] }

export type EnqueueDeps = {
  db: Kysely<Database>
  boss: PgBoss
  tasks: ReadonlyMap<string, TaskDefinition>
  /** The pool under `db`: plain enqueues run on it as one prepared statement (see insertPlain). */
  pool?: pg.Pool
}

export function findTask(tasks: ReadonlyMap<string, TaskDefinition>, kind: string): TaskDefinition {
  const task = tasks.get(kind)
  if (!task) throw new AppError('UnknownTaskKind', `Unknown task kind "${kind}"`, { details: { kind } })
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function prepare(tasks: EnqueueDeps['tasks'], request: EnqueueRequest): Prepared {
  const task = findTask(tasks, request.kind)
  if (request.jobId !== undefined && !UUID.test(request.jobId)) {
    // Job ids are uuid columns here and in pg-boss; RQ's own ids (str(uuid4())) always fit.
    throw new AppError('ValidationFailed', `Job id "${request.jobId.slice(0, 80)}" is not a UUID`, { details: { job_id: 'must be a UUID' } })
  }
  return { jobId: request.jobId?.toLowerCase() ?? randomUUID(), task, request, payload: validatePayload(task, request.payload) }
}

// 11 parameters a row: 2,000 rows stay under Postgres's 65,535 parameters per statement.
const TASK_ROWS_PER_INSERT = 2000

async function insertTaskRows(trx: Transaction<Database>, items: Prepared[], dependsOn: Map<string, string[]>) {
  for (let offset = 0; offset < items.length; offset += TASK_ROWS_PER_INSERT) {
    await insertTaskRowChunk(trx, items.slice(offset, offset + TASK_ROWS_PER_INSERT), dependsOn)
  }
}

async function insertTaskRowChunk(trx: Transaction<Database>, items: Prepared[], dependsOn: Map<string, string[]>) {
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
  if (deps.pool && items.every(isPlain) && (await insertPlain(deps as EnqueueDeps & { pool: pg.Pool }, items))) {
    return items.map((item) => ({ jobId: item.jobId, reused: false }))
  }
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

/** No idempotency key, no dedupe key, no webhook: nothing to look up or lock, only rows to write. */
function isPlain(item: Prepared): boolean {
  return !item.request.idempotency && !item.task.dedupeKey && !item.request.webhook
}

type BossInsert = { text: string; json: string }

// Per kind: pg-boss's INSERT text, once its JSON for a group was seen to be JSON.stringify(jobs).
const insertTexts = new Map<string, string>()

/** The same records to json_to_recordset: a key that is null and a key that is absent both read NULL. */
function sameRecords(a: string, b: string): boolean {
  const strip = (rows: Array<Record<string, unknown>>) => rows.map((row) => Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)))
  return JSON.stringify(strip(JSON.parse(a))) === JSON.stringify(strip(JSON.parse(b)))
}

/**
 * pg-boss's own INSERT for `jobs` of one kind, captured instead of run; undefined if it takes other
 * than one JSON parameter. Capturing runs pg-boss's insert() (~0.08 ms on an idle process, half the
 * JavaScript of an idle enqueue), so once a capture showed that pg-boss sends the same records as
 * JSON.stringify(jobs) (it adds "__traceContext": null) and the text is fixed per kind, later groups
 * reuse the text and build the JSON here. Should a pg-boss version reshape the jobs, the comparison
 * fails and every group is captured.
 */
async function bossInsertSql(boss: PgBoss, kind: string, jobs: Parameters<PgBoss['insert']>[1]): Promise<BossInsert | undefined> {
  const json = JSON.stringify(jobs)
  const known = insertTexts.get(kind)
  if (known !== undefined) return { text: known, json }
  let captured: { text: string; values?: unknown[] } | undefined
  const capture = {
    async executeSql(text: string, values?: unknown[]) {
      captured = { text, values }
      return { rows: [] }
    },
  }
  await boss.insert(kind, jobs, { db: capture, returnId: true })
  if (!captured || captured.values?.length !== 1 || typeof captured.values[0] !== 'string') return undefined
  if (sameRecords(captured.values[0], json)) insertTexts.set(kind, captured.text)
  return { text: captured.text, json: captured.values[0] }
}

/** One plain INSERT whose only parameter is $1: what nests as a CTE with its parameter renumbered. */
const nestable = (text: string) => /^\s*INSERT INTO/i.test(text) && !/\$[2-9]/.test(text) && (text.match(/\$1\b/g) ?? []).length === 1

type Statement = { bossTexts: string[]; text: string; name?: string }
// By set of kinds: pg-boss's text for a kind is fixed for the life of the process (it caches the
// queue's table and policy too), so the statement is built once and reused while the text is the same.
const statements = new Map<string, Statement | null>()
let named = 0

function buildStatement(bossTexts: string[]): Statement | null {
  if (!bossTexts.every(nestable)) return null
  const jobCtes = bossTexts.map((text, i) => `j${i} AS (${text.replace(/\$1\b/, `$${9 + i}`)})`)
  const text = `WITH tasks AS (
      INSERT INTO housler._tasks (job_id, kind, session_id, priority, payload, max_attempts)
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[])
      RETURNING job_id
    ),
    ${jobCtes.join(',\n    ')},
    jobs AS (${bossTexts.map((_, i) => `SELECT id FROM j${i}`).join(' UNION ALL ')}),
    woke AS (SELECT pg_notify('${CHANNELS.jobs}', kind) FROM unnest($7::text[]) AS kind)
    SELECT 1 / ((SELECT count(*) FROM tasks) = $8::int AND (SELECT count(*) FROM jobs) = $8::int)::int AS ok,
      (SELECT count(*) FROM woke) AS woke`
  // Unique per text: node-postgres refuses one name for two texts on a connection.
  const name = named < 64 ? `housler_enqueue_${named++}` : undefined
  return { bossTexts, text, name }
}

/**
 * Plain enqueues in ONE statement, so one round trip and one commit: our task rows, pg-boss's jobs
 * (its own INSERT, generated by pg-boss and nested as a CTE, as pg-boss nests it for its notify) and
 * the wake-up NOTIFY, atomic as any single statement. The transaction path costs five round trips
 * (BEGIN, two inserts, NOTIFY, COMMIT) and re-plans pg-boss's INSERT each time; this statement is
 * prepared once per connection and kind. If pg-boss skipped a job (ON CONFLICT), the division by
 * zero aborts the statement, so no task row is left without its job. Returns false, having written
 * nothing, when pg-boss's SQL is not the one plain INSERT this relies on; the caller then uses the
 * transaction path.
 */
async function insertPlain(deps: EnqueueDeps & { pool: pg.Pool }, items: Prepared[]): Promise<boolean> {
  const byKind = [...Map.groupBy(items, (item) => item.task.kind)].sort(([a], [b]) => a.localeCompare(b))
  const inserts: BossInsert[] = []
  for (const [kind, group] of byKind) {
    const captured = await bossInsertSql(
      deps.boss,
      kind,
      group.map((item) => ({ data: jobData(item), ...jobOptions(item) })),
    )
    if (!captured) return false
    inserts.push(captured)
  }
  const key = byKind.map(([kind]) => kind).join('\n')
  let statement = statements.get(key)
  if (statement === undefined || (statement && !statement.bossTexts.every((text, i) => text === inserts[i].text))) {
    statement = buildStatement(inserts.map((insert) => insert.text))
    statements.set(key, statement)
  }
  if (!statement) return false
  const values: unknown[] = [
    items.map((item) => item.jobId),
    items.map((item) => item.task.kind),
    items.map((item) => item.request.sessionId ?? null),
    items.map((item) => item.request.priority ?? 'normal'),
    items.map((item) => JSON.stringify(item.payload)),
    items.map((item) => item.task.retry.maxAttempts),
    byKind.map(([kind]) => kind),
    items.length,
    ...inserts.map((insert) => insert.json),
  ]
  const { name, text } = statement
  await deps.pool.query(name ? { name, text, values } : { text, values })
  return true
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
