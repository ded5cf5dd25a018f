// Task kinds of the e2e worker processes.
import pg from 'pg'
import { z } from 'zod'
import { openRuntime } from '../../src/runtime.ts'
import { defineTask } from '../../src/tasks/types.ts'

/** Created lazily so that importing the definition opens no connection. */
let pool: pg.Pool | undefined
const db = () => (pool ??= new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 }))
export const closeEffectPool = async () => pool?.end()

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

