// Task kinds of the e2e worker processes.
import pg from 'pg'
import { z } from 'zod'
import { defineTask } from '../../src/tasks/types.ts'

/** Created lazily so that importing the definition opens no connection. */
let pool: pg.Pool | undefined
function db(): pg.Pool {
  if (pool) return pool
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4, connectionTimeoutMillis: 5000 })
  // An idle client losing its connection (the fault tests restart the database) must not crash the worker.
  pool.on('error', () => {})
  return pool
}
export const closeEffectPool = async () => pool?.end()

/** The tables the effect task writes: its effect under a unique constraint, and every start. */
export const EFFECT_TABLES_SQL = `
  CREATE TABLE test_effects (job_id uuid PRIMARY KEY, pid int NOT NULL, attempt int NOT NULL);
  CREATE TABLE test_starts (job_id uuid NOT NULL, pid int NOT NULL, attempt int NOT NULL);`

export const effectTask = defineTask<{ ms: number }, { pid: number }, unknown>({
  kind: 'effect',
  payload: z.object({ ms: z.number().int().min(0).max(60_000) }),
  retry: { maxAttempts: 5, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    await db().query('INSERT INTO test_starts (job_id, pid, attempt) VALUES ($1, $2, $3)', [ctx.jobId, process.pid, ctx.attempt])
    await ctx.progress(50, 'Работа...')
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, payload.ms)
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true })
    })
    // The task's effect, under a unique constraint: a re-run after a crash cannot record it twice.
    await db().query(
      'INSERT INTO test_effects (job_id, pid, attempt) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO NOTHING',
      [ctx.jobId, process.pid, ctx.attempt],
    )
    return { pid: process.pid }
  },
})

/** Never settles and ignores its abort signal: only the worker's timeout race can free its slot. */
export const hangTask = defineTask<Record<string, never>, never, unknown>({
  kind: 'hang',
  payload: z.object({}).strict(),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  timeoutSeconds: 1,
  async handler(_payload, ctx) {
    await db().query('INSERT INTO test_starts (job_id, pid, attempt) VALUES ($1, $2, $3)', [ctx.jobId, process.pid, ctx.attempt])
    return new Promise<never>(() => {})
  },
})

/** The kinds the test worker and API processes register. */
export const TEST_PROCESS_TASKS = [effectTask, hangTask]
