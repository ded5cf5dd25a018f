// The task kind of fleet and connection tests: it touches no database of its own, so every
// connection a process opens is the service's.
import { z } from 'zod'
import { defineTask } from '../../src/tasks/types.ts'

export const sleepTask = defineTask<{ ms: number }, { pid: number; attempt: number }, unknown>({
  kind: 'sleep',
  payload: z.object({ ms: z.number().int().min(0).max(60_000) }),
  retry: { maxAttempts: 3, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    await ctx.progress(50, 'Работа...')
    await new Promise((resolve) => setTimeout(resolve, payload.ms))
    return { pid: process.pid, attempt: ctx.attempt }
  },
})
