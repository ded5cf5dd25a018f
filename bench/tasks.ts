import { z } from 'zod'
import { defineTask } from '../src/tasks/types.ts'

/** Where a handler reports that it ran: the bench counts drains and measures pickup through it. */
export const hooks: { onRun: (payload: { t?: number; seq?: number; sys?: number }) => void } = { onRun: () => {} }

export const wallMs = () => performance.timeOrigin + performance.now()

const payload = z.object({ t: z.number().optional(), seq: z.number().optional(), sys: z.number().optional() })
const retry = { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 }

export const noopTask = defineTask({
  kind: 'noop',
  payload,
  retry,
  async handler(data) {
    hooks.onRun(data)
    return { ok: true }
  },
})

export const progressTask = defineTask({
  kind: 'progress5',
  payload,
  retry,
  async handler(data, ctx) {
    hooks.onRun(data)
    for (let step = 1; step <= 5; step++) await ctx.progress(step * 20, `Шаг ${step} из 5`)
    return { ok: true }
  },
})

export const BENCH_TASKS = [noopTask, progressTask]
