import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { sql, type Kysely, type Transaction } from 'kysely'
import { fromKysely, type PgBoss } from 'pg-boss'
import { AppError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { TaskDefinition } from '../tasks/types.ts'
import { insertSubscriptions, type WebhookSubscription } from '../webhooks/outbox.ts'
import { dedupeKeyOf, dedupeLockKey, findDedupedSql, findReusable, recordKeys, type IdempotencyClaim } from './idempotency.ts'
import { CHANNELS } from './listener.ts'
import { captureInsert, dedupedEnqueueStatement, enqueueStatement, type CapturedInsert } from './pg-boss-internals.ts'
import { inOneTrip } from './one-trip.ts'
import { PG_BOSS_PRIORITY, type Priority } from './status.ts'
import type { ClaimOffer } from './worker.ts'

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
  /** The pool under `db`: plain enqueues run on it as one prepared statement (see insertPlain). */
  pool?: pg.Pool
  /** A slot of an idle worker in this process for a job of `kind` (Worker.offerClaim), if one has it. */
  offerClaim?: (kind: string) => ClaimOffer | undefined
}

/** A request parsed and admitted, with its job id: what the writers take. */
export type PreparedJob = { jobId: string; task: TaskDefinition; request: EnqueueRequest; payload: unknown; sessionId: string | null }

function findTask(tasks: ReadonlyMap<string, TaskDefinition>, kind: string): TaskDefinition {
  const task = tasks.get(kind)
  if (!task) throw new AppError('UnknownTaskKind', `Unknown task kind "${kind}"`, { details: { kind } })
  return task
}

/** Parses a payload against its kind's schema: bad input never reaches the queue. */
function parsePayload(task: TaskDefinition, payload: unknown): unknown {
  const parsed = task.payload.safeParse(payload)
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `Invalid payload for task "${task.kind}"`, {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    })
  }
  return parsed.data
}

/**
 * The one parse and admission of a request (the kind's checks, e.g. the listing URL policy); throws
 * AppError (4xx) to refuse. Every enqueue path goes through here, whoever the caller.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function prepareJob(tasks: ReadonlyMap<string, TaskDefinition>, admitDeps: unknown, request: EnqueueRequest): PreparedJob {
  const task = findTask(tasks, request.kind)
  if (request.jobId !== undefined && !UUID.test(request.jobId)) {
    // Job ids are uuid columns here and in pg-boss; RQ's own ids (str(uuid4())) always fit.
    throw new AppError('ValidationFailed', `Job id "${request.jobId.slice(0, 80)}" is not a UUID`, { details: { job_id: 'must be a UUID' } })
  }
  const payload = parsePayload(task, request.payload)
  task.admit?.(payload, admitDeps)
  // The guide's payloads carry the client's session_id; it is also the job's session.
  const fromPayload = (payload as { session_id?: unknown } | null)?.session_id
  const sessionId = request.sessionId ?? (typeof fromPayload === 'string' ? fromPayload : null)
  return { jobId: request.jobId?.toLowerCase() ?? randomUUID(), task, request, payload, sessionId }
}

/** No idempotency key, no dedupe key, no webhook: nothing to look up or lock, only rows to write. */
export function isPlain(item: PreparedJob): boolean {
  return !item.request.idempotency && !item.task.dedupeKey && !item.request.webhook
}

// 11 parameters a row: 2,000 rows stay under Postgres's 65,535 parameters per statement.
const TASK_ROWS_PER_INSERT = 2000

async function insertTaskRows(trx: Transaction<Database>, items: PreparedJob[], dependsOn: Map<string, string[]>) {
  for (let offset = 0; offset < items.length; offset += TASK_ROWS_PER_INSERT) {
    await insertTaskRowChunk(trx, items.slice(offset, offset + TASK_ROWS_PER_INSERT), dependsOn)
  }
}

async function insertTaskRowChunk(trx: Transaction<Database>, items: PreparedJob[], dependsOn: Map<string, string[]>) {
  await trx
    .insertInto('housler._tasks')
    .values(
      items.map((item) => ({
        job_id: item.jobId,
        kind: item.task.kind,
        session_id: item.sessionId,
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

function jobData(item: PreparedJob, dependsOn: string[] = [], hasDependents = false) {
  return { payload: item.payload, sessionId: item.sessionId, dependsOn, hasDependents }
}

function jobOptions(item: PreparedJob) {
  return {
    id: item.jobId,
    priority: PG_BOSS_PRIORITY[item.request.priority ?? 'normal'],
    ...(item.request.runAt ? { startAfter: item.request.runAt } : {}),
  }
}

/**
 * Writes prepared jobs, each as our task row plus its pg-boss job, all in ONE transaction: a crash
 * leaves either every row or none. reused: an existing job answered (Idempotency-Key or dedupeKey).
 */
export async function writeJobs(deps: EnqueueDeps, items: PreparedJob[]): Promise<EnqueueOutcome[]> {
  if (deps.pool && items.every(isPlain) && (await insertPlain(deps as EnqueueDeps & { pool: pg.Pool }, items))) {
    return items.map((item) => ({ jobId: item.jobId, reused: false }))
  }
  const deduped = deps.pool && items.length === 1 && isDedupedOnly(items[0]) ? await insertDeduped(deps as EnqueueDeps & { pool: pg.Pool }, items[0]) : undefined
  if (deduped) return [deduped]
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

/**
 * Plain enqueues in ONE statement (pg-boss-internals.ts enqueueStatement), so one statement and one
 * commit instead of five (BEGIN, two inserts, NOTIFY, COMMIT), prepared once per connection: pickup
 * 3.49 → 2.68 ms and HTTP enqueues 2,226 → 2,366/s (bench/RESULTS.md, c1437b1), which pg-boss's
 * public send() with `{ db }` cannot match. Returns false, having written nothing, when pg-boss's SQL
 * is not the one plain INSERT this relies on; the caller then uses the transaction path.
 */
async function insertPlain(deps: EnqueueDeps & { pool: pg.Pool }, items: PreparedJob[]): Promise<boolean> {
  const byKind = [...Map.groupBy(items, (item) => item.task.kind)].sort(([a], [b]) => a.localeCompare(b))
  const inserts: CapturedInsert[] = []
  for (const [kind, group] of byKind) {
    const captured = await captureInsert(
      deps.boss,
      kind,
      group.map((item) => ({ data: jobData(item), ...jobOptions(item) })),
    )
    if (!captured) return false
    inserts.push(captured)
  }
  const statement = enqueueStatement(byKind.map(([kind]) => kind), inserts)
  if (!statement) return false
  const payloads = items.map((item) => JSON.stringify(item.payload))
  const claims = claimsFor(deps, byKind)
  const values: unknown[] = [
    items.map((item) => item.jobId),
    items.map((item) => item.task.kind),
    items.map((item) => item.sessionId),
    items.map((item) => item.request.priority ?? 'normal'),
    payloads,
    items.map((item) => item.task.retry.maxAttempts),
    // A kind whose every job is claimed here wakes nobody.
    byKind.filter(([kind, group]) => group.length > (claims.get(kind) ? 1 : 0)).map(([kind]) => kind),
    items.length,
    [...claims.values()].map(({ item }) => item.jobId),
    ...inserts.map((insert) => insert.json),
  ]
  const { name, text } = statement
  await handOver(claims, () => deps.pool.query(name ? { name, text, values } : { text, values }), (item) => payloads[items.indexOf(item)])
  return true
}

type Claim = { item: PreparedJob; offer: ClaimOffer }

/**
 * Claim on enqueue: for each kind an idle worker of this process has a slot for (Worker.offerClaim),
 * the kind's first job is written already claimed (pg-boss-internals.ts claimingInsert) and started by
 * that worker once the enqueue committed: no wake-up, no claim of its own (a round trip and a commit).
 * Only for jobs that may run now.
 */
function claimsFor(deps: EnqueueDeps, byKind: Array<[string, PreparedJob[]]>): Map<string, Claim> {
  const claims = new Map<string, Claim>()
  for (const [kind, group] of byKind) {
    const item = group[0]
    if (!deps.offerClaim || (item.request.runAt && item.request.runAt.getTime() > Date.now())) continue
    const offer = deps.offerClaim(kind)
    if (offer) claims.set(kind, { item, offer })
  }
  return claims
}

/** Runs the write, then hands each claimed job to its worker, or gives the slots back if the write failed or wrote nothing for one. */
async function handOver<T>(claims: Map<string, Claim>, write: () => Promise<T>, payloadJson: (item: PreparedJob) => string, written: (item: PreparedJob, result: T) => boolean = () => true): Promise<T> {
  const createdOn = new Date()
  let result: T
  try {
    result = await write()
  } catch (e) {
    for (const { offer } of claims.values()) offer.withdraw()
    throw e
  }
  for (const { item, offer } of claims.values()) {
    if (!written(item, result)) {
      offer.withdraw()
      continue
    }
    // The data pg-boss stored, as its fetch would have read it back (JSON, not the parsed payload's objects).
    const data = { ...jobData(item), payload: JSON.parse(payloadJson(item)) }
    offer.take({ id: item.jobId, name: item.task.kind, data, retryCount: 0, createdOn })
  }
  return result
}

/** A dedupe key and nothing else to look up: no Idempotency-Key, no webhook. */
function isDedupedOnly(item: PreparedJob): boolean {
  return !item.request.idempotency && !item.request.webhook && dedupeKeyOf(item) !== undefined
}

/**
 * One job of a kind with a dedupe key (a parse from the wizard) in one round trip instead of eight:
 * BEGIN, the key's advisory lock, one statement (pg-boss-internals.ts dedupedEnqueueStatement) that
 * answers the unfinished job holding the key or writes every row, COMMIT, pipelined (one-trip.ts). The
 * same lock and lookup as the transaction path (idempotency.ts). Returns undefined, having written
 * nothing, when pg-boss's SQL is not the one plain INSERT this relies on.
 */
async function insertDeduped(deps: EnqueueDeps & { pool: pg.Pool }, item: PreparedJob): Promise<EnqueueOutcome | undefined> {
  const kind = item.task.kind
  const dedupe = dedupeKeyOf(item)!
  const captured = await captureInsert(deps.boss, kind, [{ data: jobData(item), ...jobOptions(item) }])
  const statement = captured && dedupedEnqueueStatement(kind, captured, findDedupedSql('$7', '$8'))
  if (!captured || !statement) return undefined
  const payload = JSON.stringify(item.payload)
  const claims = claimsFor(deps, [[kind, [item]]])
  const claimed = [...claims.values()].map((claim) => claim.item.jobId)
  const values = [[item.jobId], [kind], [item.sessionId], [item.request.priority ?? 'normal'], [payload], [item.task.retry.maxAttempts], kind, dedupe, captured.json, claimed]
  const { name, text } = statement
  const lock = { name: 'housler_dedupe_lock', text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', values: [dedupeLockKey(kind, dedupe)] }
  // An existing job that answers leaves the claimed id unwritten: the slot goes back.
  const [, row] = await handOver(
    claims,
    () => inOneTrip(deps.pool, [lock, name ? { name, text, values } : { text, values }]),
    () => payload,
    (_, [, result]) => !(result.rows[0] as { reused: boolean }).reused,
  )
  const answer = row.rows[0] as { job_id: string; reused: boolean }
  return { jobId: answer.job_id, reused: answer.reused }
}

async function insertWebhooks(trx: Transaction<Database>, items: PreparedJob[]) {
  const rows = items.flatMap((item) => (item.request.webhook ? [{ jobId: item.jobId, ...item.request.webhook }] : []))
  if (rows.length > 0) await insertSubscriptions(trx, rows)
}

/**
 * Enqueues a graph of jobs (RQ depends_on, pg-boss flow) atomically. A step waits `deferred`
 * until every step it depends on has finished; returns job ids by ref.
 */
export async function enqueueFlow(
  deps: EnqueueDeps,
  prepare: (request: EnqueueRequest) => PreparedJob,
  steps: FlowStep[],
): Promise<Record<string, string>> {
  const refs = new Set(steps.map((step) => step.ref))
  for (const step of steps) {
    for (const parent of step.dependsOn ?? []) {
      if (!refs.has(parent) || parent === step.ref) {
        throw new AppError('ValidationFailed', `Step "${step.ref}" depends on unknown step "${parent}"`)
      }
    }
  }
  const items = steps.map((step) => ({ ...prepare(step), step }))
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
