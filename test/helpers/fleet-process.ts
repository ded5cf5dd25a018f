// One process of a fleet test: a worker (FLEET_ROLE=worker) or the API (FLEET_ROLE=api), composed as
// worker/main.ts and src/server.ts --api-only compose, running the sleep task. Reports over IPC when ready.
import { openRuntime } from '../../src/runtime.ts'
import { sleepTask } from './fleet-tasks.ts'

const api = process.env.FLEET_ROLE === 'api'
const runtime = await openRuntime({ name: api ? 'fleet-api' : 'fleet-worker', tasks: [sleepTask], serves: { api, worker: !api } })
const { config, log, queue, metrics } = runtime
runtime.startCleanup()
let close = async () => {}
if (api) {
  // Imported here: forty workers need not each load the HTTP app (a third of a process's start-up CPU).
  const [{ serve }, { createApp }] = await Promise.all([import('@hono/node-server'), import('../../src/http/app.ts')])
  const app = createApp({ config, queue, metrics, log })
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
