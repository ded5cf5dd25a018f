import { createHash } from 'node:crypto'
import { sql, type Transaction } from 'kysely'
import { AppError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { TaskDefinition } from '../tasks/types.ts'

/** Idempotency-Key scope: the client (API key hash, or "-" without one), the key, and a hash of the request. */
export type IdempotencyClaim = { client: string; key: string; bodyHash: string }

export const IDEMPOTENCY_WINDOW_HOURS = 24
/** Statuses in which a duplicate (same TaskDefinition.dedupeKey) is answered with the existing job. */
const UNFINISHED = ['queued', 'started', 'scheduled', 'deferred']

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]))
  }
  return value
}

/** Same kind and same JSON (key order ignored) → same hash. */
export function hashRequest(kind: string, body: unknown): string {
  return createHash('sha256').update(JSON.stringify([kind, canonical(body)])).digest('hex')
}

type Candidate = { jobId: string; task: TaskDefinition; payload: unknown; idempotency?: IdempotencyClaim }

export function dedupeKeyOf(item: Pick<Candidate, 'task' | 'payload'>): string | undefined {
  return item.task.dedupeKey?.(item.payload) || undefined
}

/** The advisory lock every enqueue of one kind and dedupe key takes, whichever path writes it. */
export const dedupeLockKey = (kind: string, dedupe: string) => `dedupe:${kind}:${dedupe}`

/** findReusable's dedupe lookup as SQL text, for the one-statement enqueue: `kind` and `key` name its parameters. */
export const findDedupedSql = (kind: string, key: string) => `
  SELECT d.job_id FROM housler.task_dedupe d JOIN housler.jobs j ON j.id = d.job_id
  WHERE d.kind = ${kind} AND d.dedupe_key = ${key} AND j.status = ANY('{${UNFINISHED.join(',')}}'::text[])
  LIMIT 1`

/**
 * Inside the enqueue transaction: serialises enqueues that share an idempotency or dedupe key
 * (transaction advisory locks, taken in sorted order so two batches cannot deadlock), then answers,
 * per item, the existing job id to return instead of a new job. Throws Conflict for a reused key with
 * a different body.
 */
export type Reuse = Map<string, { jobId: string; via: 'key' | 'dedupe' }>

export async function findReusable(trx: Transaction<Database>, items: Candidate[]): Promise<Reuse> {
  const lockKeys = new Set<string>()
  for (const item of items) {
    if (item.idempotency) lockKeys.add(`idem:${item.idempotency.client}:${item.idempotency.key}`)
    const dedupe = dedupeKeyOf(item)
    if (dedupe) lockKeys.add(dedupeLockKey(item.task.kind, dedupe))
  }
  for (const key of [...lockKeys].sort()) await sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx)

  const reused: Reuse = new Map()
  const inBatch = new Map<string, string>()
  for (const item of items) {
    if (item.idempotency) {
      const { client, key, bodyHash } = item.idempotency
      const { rows } = await sql<{ body_hash: string; job_id: string }>`
        SELECT body_hash, job_id FROM housler.idempotency_keys
        WHERE client = ${client} AND key = ${key} AND created_at > now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS})`.execute(trx)
      if (rows[0]) {
        if (rows[0].body_hash !== bodyHash) {
          throw new AppError('Conflict', 'Idempotency-Key was already used with a different request body', {
            details: { idempotency_key: key, job_id: rows[0].job_id },
          })
        }
        reused.set(item.jobId, { jobId: rows[0].job_id, via: 'key' })
        continue
      }
    }
    const dedupe = dedupeKeyOf(item)
    if (dedupe) {
      const batchKey = `${item.task.kind}\n${dedupe}`
      const earlier = inBatch.get(batchKey)
      if (earlier) {
        reused.set(item.jobId, { jobId: earlier, via: 'dedupe' })
        continue
      }
      const { rows } = await sql<{ job_id: string }>`
        SELECT d.job_id FROM housler.task_dedupe d JOIN housler.jobs j ON j.id = d.job_id
        WHERE d.kind = ${item.task.kind} AND d.dedupe_key = ${dedupe} AND j.status = ANY(${UNFINISHED}::text[])
        LIMIT 1`.execute(trx)
      if (rows[0]) reused.set(item.jobId, { jobId: rows[0].job_id, via: 'dedupe' })
      else inBatch.set(batchKey, item.jobId)
    }
  }
  return reused
}

/** Records keys of the jobs actually created (or found by dedupe), in the same transaction, still under the locks. */
export async function recordKeys(trx: Transaction<Database>, items: Candidate[], reused: Reuse): Promise<void> {
  for (const item of items) {
    const reuse = reused.get(item.jobId)
    if (reuse?.via === 'key') continue
    const jobId = reuse?.jobId ?? item.jobId
    if (item.idempotency) {
      const { client, key, bodyHash } = item.idempotency
      await sql`DELETE FROM housler.idempotency_keys WHERE client = ${client} AND key = ${key}`.execute(trx)
      // The primary key is the last word if two transactions ever got here for the same key.
      await sql`INSERT INTO housler.idempotency_keys (client, key, body_hash, job_id) VALUES (${client}, ${key}, ${bodyHash}, ${jobId})`.execute(trx)
    }
    const dedupe = dedupeKeyOf(item)
    if (dedupe && !reuse) {
      await sql`INSERT INTO housler.task_dedupe (job_id, kind, dedupe_key) VALUES (${item.jobId}, ${item.task.kind}, ${dedupe})`.execute(trx)
    }
  }
}
