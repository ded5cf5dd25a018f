/**
 * The one seam between our code and pg-boss's internals: its generated SQL text, its private SQL
 * builder (`pg-boss/dist/plans.js`) and its `pgboss.*` tables. Everything else uses pg-boss's public
 * API. pg-boss is pinned to an exact version (package.json), and test/integration/queue/pg-boss-pin.test.ts
 * compares what this file relies on against recorded expectations, so an upgrade fails loudly here.
 *
 * Also relied upon, outside TypeScript (migrations keep their frozen DDL):
 * - the housler.jobs view LEFT JOINs pgboss.job on (name, id) and reads state, blocked, start_after,
 *   started_on, completed_on, retry_count and output (migrations 0001, 0005); housler.rq_status(),
 *   rq_error() and rq_error_code() take pg-boss's enum pgboss.job_state (migration 0005);
 * - housler.capture_webhook_event() is a row trigger AFTER INSERT / UPDATE OF state ON pgboss.job
 *   (migrations 0004, 0005): pg-boss 12 clones row triggers of the partitioned parent onto each queue's
 *   partition, so the outbox row commits with whatever ends the job (worker, cancel, expiry).
 * We never write to pgboss.* with SQL of our own: writes are pg-boss's API or its own captured INSERT
 * (claimingInsert adds to it the claim its fetch would make).
 */
import { sql, type Kysely } from 'kysely'
import type { PgBoss } from 'pg-boss'
// pg-boss's own statement for completing several jobs with one output each; not on its public API.
import { completeJobsWithOutputs } from 'pg-boss/dist/plans.js'
import type { Database } from '../db/index.ts'
import { CHANNELS } from './listener.ts'

/** pg-boss's schema: where it keeps job, queue and version. */
export const PG_BOSS_SCHEMA = 'pgboss'

/** The columns of pgboss.job our views, trigger and reads use (checked by the pin test). */
export const JOB_COLUMNS_WE_READ = ['name', 'id', 'state', 'blocked', 'start_after', 'started_on', 'completed_on', 'retry_count', 'output'] as const

type Jobs = Parameters<PgBoss['insert']>[1]

/** pg-boss's INSERT for one kind's jobs, and the single JSON parameter it takes. */
export type CapturedInsert = { text: string; json: string }

// Per kind: pg-boss's INSERT text, once its JSON for a group was seen to be JSON.stringify(jobs).
const insertTexts = new Map<string, string>()

/** The same records to json_to_recordset: a key that is null and a key that is absent both read NULL. */
function sameRecords(a: string, b: string): boolean {
  const strip = (rows: Array<Record<string, unknown>>) => rows.map((row) => Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)))
  return JSON.stringify(strip(JSON.parse(a))) === JSON.stringify(strip(JSON.parse(b)))
}

/**
 * pg-boss's own INSERT for `jobs` of one kind, captured instead of run (boss.insert with a `db` that
 * records); undefined if it takes other than one JSON parameter. Capturing runs pg-boss's insert()
 * (about half the JavaScript of an idle enqueue), so once a capture showed that pg-boss sends the same
 * records as JSON.stringify(jobs) and the text is fixed per kind, later groups reuse the text and
 * build the JSON here. Should pg-boss reshape the jobs, the comparison fails and every group is captured.
 */
export async function captureInsert(boss: PgBoss, kind: string, jobs: Jobs): Promise<CapturedInsert | undefined> {
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

// pg-boss's INSERT (plans.insertJobs): its column list opens with id, its SELECT list with id's COALESCE.
const INSERT_COLUMNS = /(INSERT INTO pgboss\.\w+ \(\s*)id,/
const INSERT_VALUES = /(\bSELECT\s+)(COALESCE\(id, gen_random_uuid\(\)\) as id,)/

/**
 * pg-boss's INSERT, made to write the rows whose id is in `claimed` (a uuid[] parameter) as already
 * claimed: `active`, started and heartbeat now — what its fetch's UPDATE sets on a first claim
 * (retry_count stays 0). Other rows are written as before, so with no id claimed this is pg-boss's
 * INSERT. Our queues use pg-boss's standard policy (boss.ts), which puts no limit on active jobs.
 * null when the text is not of the shape this relies on (the pin test checks it is).
 */
export function claimingInsert(text: string, claimed: string): string | null {
  if (!INSERT_COLUMNS.test(text) || !INSERT_VALUES.test(text)) return null
  const mine = `id = ANY(${claimed}::uuid[])`
  const now = `CASE WHEN ${mine} THEN ${PG_BOSS_SCHEMA}.job_now() END`
  return text
    .replace(INSERT_COLUMNS, (_, head: string) => `${head}state, started_on, heartbeat_on, id,`)
    .replace(INSERT_VALUES, (_, select: string, id: string) => `${select}(CASE WHEN ${mine} THEN 'active' ELSE 'created' END)::${PG_BOSS_SCHEMA}.job_state, ${now}, ${now},\n      ${id}`)
}

/** pg-boss's INSERT as a CTE of ours: its JSON parameter read from `json`, the ids in `claimed` written claimed; null if not nestable. */
function nestedInsert(text: string, json: string, claimed: string): string | null {
  return nestable(text) ? claimingInsert(text.replace(/\$1\b/, () => json), claimed) : null
}

/** A statement writing our task rows and pg-boss's jobs at once; `name` prepares it per connection. */
export type EnqueueStatement = { bossTexts: string[]; text: string; name?: string }

// By set of kinds: pg-boss's text for a kind is fixed for the life of the process (it caches the
// queue's table and policy too), so the statement is built once and reused while the text is the same.
const statements = new Map<string, EnqueueStatement | null>()
let named = 0

function spliceStatement(bossTexts: string[]): EnqueueStatement | null {
  const nested = bossTexts.map((text, i) => nestedInsert(text, `$${10 + i}`, '$9'))
  if (!nested.every((text) => text !== null)) return null
  const jobCtes = nested.map((text, i) => `j${i} AS (${text})`)
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

const dedupedStatements = new Map<string, EnqueueStatement | null>()

/**
 * One job of a kind with a dedupe key, in one statement, run after its key's advisory lock (a new
 * statement, so its snapshot sees every earlier holder's commit): `existing` (SQL selecting the
 * unfinished job holding $7 kind / $8 key) answers instead when it finds one; else the task row,
 * pg-boss's job (its JSON made '[]' when reused), the dedupe row and the wake-up are written.
 * Parameters as enqueueStatement's $1–$6 (one row), $7 kind, $8 dedupe key, $9 pg-boss's JSON, $10
 * the job ids to write claimed (claimingInsert; `{}` for none, else no wake-up is sent); returns job_id
 * and reused. null when pg-boss's SQL is not the one plain INSERT this relies on.
 */
export function dedupedEnqueueStatement(kind: string, insert: CapturedInsert, existing: string): EnqueueStatement | null {
  let statement = dedupedStatements.get(kind)
  if (statement === undefined || (statement && statement.bossTexts[0] !== insert.text)) {
    const job = nestedInsert(insert.text, `(SELECT CASE WHEN fresh.yes THEN $9::text ELSE '[]' END FROM fresh)`, '$10')
    statement = job
      ? {
          bossTexts: [insert.text],
          text: `WITH existing AS (${existing}),
    fresh AS (SELECT NOT EXISTS (SELECT 1 FROM existing) AS yes),
    tasks AS (
      INSERT INTO housler._tasks (job_id, kind, session_id, priority, payload, max_attempts)
      SELECT t.* FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[]) AS t, fresh WHERE fresh.yes
      RETURNING job_id
    ),
    job AS (${job}),
    dedupe AS (INSERT INTO housler.task_dedupe (job_id, kind, dedupe_key) SELECT job_id, $7, $8 FROM tasks RETURNING job_id),
    woke AS (SELECT pg_notify('${CHANNELS.jobs}', $7) FROM fresh WHERE fresh.yes AND cardinality($10::uuid[]) = 0)
    SELECT coalesce((SELECT job_id FROM existing), ($1::uuid[])[1]) AS job_id, NOT (SELECT yes FROM fresh) AS reused,
      1 / ((SELECT count(*) FROM tasks) = (SELECT count(*) FROM job) AND (SELECT count(*) FROM dedupe) = (SELECT count(*) FROM tasks)
        AND (SELECT count(*) FROM woke) = (SELECT count(*) FROM tasks WHERE cardinality($10::uuid[]) = 0))::int AS ok`,
          name: named < 64 ? `housler_enqueue_${named++}` : undefined,
        }
      : null
    dedupedStatements.set(kind, statement)
  }
  return statement
}

/**
 * The one-statement enqueue for these kinds (sorted; `inserts` in the same order): parameters $1–$6
 * are our task rows' columns as arrays (job_id, kind, session_id, priority, payload, max_attempts),
 * $7 the kinds to wake, $8 the job count, $9 the job ids to write claimed (claimingInsert; `{}` for
 * none), $10… each kind's pg-boss JSON. pg-boss's INSERTs are nested as CTEs, as pg-boss nests its own
 * for its notify. If pg-boss skipped a job (ON CONFLICT), the division by zero aborts the statement,
 * so no task row is left without its job. null when pg-boss's SQL is not the one plain INSERT this
 * relies on: the caller then uses the public API in a transaction.
 */
export function enqueueStatement(kinds: string[], inserts: CapturedInsert[]): EnqueueStatement | null {
  const key = kinds.join('\n')
  let statement = statements.get(key)
  if (statement === undefined || (statement && !statement.bossTexts.every((text, i) => text === inserts[i].text))) {
    statement = spliceStatement(inserts.map((insert) => insert.text))
    statements.set(key, statement)
  }
  return statement
}

/**
 * pg-boss's statement completing several jobs of one kind, each with its own output and attempt
 * fence (what its work() uses for per-job results). Parameters: $1 kind, $2 JSON of
 * [{id, retry_count, output}]; returns one row with `ids` (the jobs it completed).
 */
export function createCompletionSql(boss: PgBoss): (kind: string) => Promise<string> {
  const tables = new Map<string, Promise<string>>()
  return (kind) => {
    let table = tables.get(kind)
    if (!table) {
      // The queue's table: job_common, or its own partition when created with partition: true.
      table = boss.getQueue(kind).then((queue) => (queue as { table?: string } | null)?.table ?? 'job_common')
      table.catch(() => tables.delete(kind))
      tables.set(kind, table)
    }
    return table.then((name) => completeJobsWithOutputs(PG_BOSS_SCHEMA, name))
  }
}

// pg-boss's fetch (plans.fetchNextJob): one UPDATE of the claimed rows, with a WITH of its own, and a RETURNING list.
const FETCH_SHAPE = /^\s*WITH\b[\s\S]*\bUPDATE\s+pgboss\.\w+\s+j\s+SET\s+state\s*=\s*'active'[\s\S]*\bRETURNING\b[^;]*$/

/**
 * pg-boss's fetch, committed without waiting for its WAL to reach disk (synchronous_commit off for
 * that one transaction, through a pooler too). A database crash can then forget a claim of its last
 * moments: the job is `created` again and runs again, as after a worker crash (at least once). Nothing
 * answered is lost: enqueues and completions still wait for their flush, and a completion's flush also
 * carries every claim before it. Other texts (and a fetch of another shape) pass unchanged.
 */
export function claimWithoutFlush(text: string): string {
  if (!FETCH_SHAPE.test(text)) return text
  return `WITH housler_claimed AS (${text}) SELECT c.* FROM housler_claimed c, (SELECT set_config('synchronous_commit', 'off', true)) AS housler_async`
}

/** Jobs of the given kinds per RQ status, by the one mapping housler.rq_status() (migration 0005). */
export async function countJobsByStatus(db: Kysely<Database>, kinds: string[]): Promise<Array<{ kind: string; status: string; jobs: number }>> {
  // pgboss.job alone (a join with every task row made the count of every retained job ~25% slower),
  // then the few jobs settling a permanent failure (partial index) move from their pg-boss status to
  // the one the view gives them.
  const result = await sql<{ kind: string; status: string; jobs: number }>`
    WITH settling AS (
      SELECT j.name, j.state, j.blocked, j.start_after FROM housler._tasks t
      JOIN pgboss.job j ON j.name = t.kind AND j.id = t.job_id
      WHERE t.permanent_error IS NOT NULL AND t.kind = ANY(${kinds}::text[])
    )
    SELECT kind, status, sum(jobs)::int AS jobs FROM (
      SELECT j.name AS kind, housler.rq_status(j.state, j.blocked, j.start_after, false, false) AS status, count(*) AS jobs
      FROM pgboss.job j WHERE j.name = ANY(${kinds}::text[]) GROUP BY 1, 2
      UNION ALL
      SELECT name, housler.rq_status(state, blocked, start_after, false, false), -count(*) FROM settling GROUP BY 1, 2
      UNION ALL
      SELECT name, housler.rq_status(state, blocked, start_after, true, false), count(*) FROM settling GROUP BY 1, 2
    ) counts
    GROUP BY 1, 2 HAVING sum(jobs) <> 0`.execute(db)
  return result.rows
}

/** Ended jobs past their TTL (finished: resultTtl; failed or canceled: failureTtl), by pg-boss's completed_on index. */
export async function findJobsPastTtl(
  db: Kysely<Database>,
  ttl: { resultTtlSeconds: number; failureTtlSeconds: number },
  limit: number,
): Promise<Array<{ id: string; kind: string }>> {
  const result = await sql<{ id: string; kind: string }>`
    SELECT j.id, j.name AS kind FROM pgboss.job j
    WHERE (j.state = 'completed' AND j.completed_on < now() - make_interval(secs => ${ttl.resultTtlSeconds}))
       OR (j.state IN ('failed', 'cancelled') AND j.completed_on < now() - make_interval(secs => ${ttl.failureTtlSeconds}))
    LIMIT ${limit}`.execute(db)
  return result.rows
}

/** pg-boss's schema version without starting pg-boss; null when its schema does not exist yet. */
export function readPgBossSchemaVersion(db: Kysely<Database>): Promise<number | null> {
  return sql<{ version: number }>`SELECT version FROM pgboss.version`.execute(db).then(
    (result) => result.rows[0]?.version ?? null,
    () => null,
  )
}
