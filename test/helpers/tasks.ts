import { z } from 'zod'
import { AppError } from '../../src/errors.ts'
import { defineTask } from '../../src/tasks/types.ts'

/** Task kinds the core tests register: the queue is proven without the domain tasks. */
export const echoTask = defineTask({
  kind: 'echo',
  payload: z.object({ session_id: z.string().optional(), value: z.unknown().optional(), steps: z.number().int().min(0).max(20).default(0) }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    for (let step = 1; step <= payload.steps; step++) {
      await ctx.progress(Math.round((step / payload.steps) * 90), `Шаг ${step} из ${payload.steps}...`)
    }
    return { success: true, data: { value: payload.value ?? null, parents: ctx.parents }, session_id: payload.session_id ?? null }
  },
})

export const failTask = defineTask({
  kind: 'fail',
  payload: z.object({ session_id: z.string().optional(), message: z.string().default('boom'), permanent: z.boolean().default(false) }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    await ctx.progress(30, 'Извлечение данных...')
    if (payload.permanent) throw new AppError('PermanentTaskFailure', payload.message)
    throw new Error(payload.message)
  },
})

/** Waits until released through a gate the test holds, or until aborted. */
export function createGates() {
  const waiting = new Map<string, () => void>()
  const arrivals: Array<(jobId: string) => void> = []
  const started: string[] = []
  const task = defineTask({
    kind: 'gate',
    payload: z.object({ session_id: z.string().optional(), label: z.string().default('') }),
    retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
    async handler(payload, ctx) {
      started.push(ctx.jobId)
      await ctx.progress(10, 'Ожидание...')
      await new Promise<void>((resolve, reject) => {
        waiting.set(ctx.jobId, resolve)
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
        for (const arrive of arrivals.splice(0)) arrive(ctx.jobId)
      })
      waiting.delete(ctx.jobId)
      return { label: payload.label }
    },
  })
  return {
    task,
    started,
    /** Resolves when the next job reaches the gate (or immediately if one is waiting and unseen). */
    nextArrival: () => new Promise<string>((resolve) => arrivals.push(resolve)),
    waitingIds: () => [...waiting.keys()],
    release(jobId: string) {
      waiting.get(jobId)?.()
    },
  }
}
