// One process of a fleet test: a worker (FLEET_ROLE=worker) or the API (FLEET_ROLE=api), composed as
// worker/main.ts and src/server.ts --api-only compose, with one task kind that touches no database
// of its own, so every connection the process opens is the service's. Reports over IPC when ready.
import { serve } from '@hono/node-server'
import { z } from 'zod'
import { createApp } from '../../src/http/app.ts'
import { openRuntime } from '../../src/runtime.ts'
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

const api = process.env.FLEET_ROLE === 'api'
const runtime = await openRuntime({ name: api ? 'fleet-api' : 'fleet-worker', tasks: [sleepTask], serves: { api, worker: !api } })
const { config, log, queue } = runtime
queue.startCleanup()
let close = async () => {}
if (api) {
  const app = createApp({ config, queue, log })
  const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' }, (info) => {
    process.send?.({ type: 'ready', port: info.port })
  })
  close = () => new Promise<void>((resolve) => server.close(() => resolve()))
} else {
  queue.startWorker({ kinds: config.workerKinds })
  process.send?.({ type: 'ready' })
}

let stopping = false
process.on('SIGTERM', async () => {
  if (stopping) return
  stopping = true
  await close()
  await runtime.close()
  process.exit(0)
})
