// An API-only process with the test task kinds, composed as src/server.ts composes `--api-only`
// (src/server.ts registers the product kinds, which no test worker runs). Reports its port over IPC.
import { serve } from '@hono/node-server'
import { createApp } from '../../src/http/app.ts'
import { openRuntime } from '../../src/runtime.ts'
import { TEST_PROCESS_TASKS } from './test-worker-tasks.ts'

const runtime = await openRuntime({ name: 'test-api', tasks: TEST_PROCESS_TASKS, serves: { api: true } })
const { config, log, queue, metrics } = runtime
const app = createApp({ config, queue, metrics, log })
runtime.startCleanup()
const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' }, (info) => {
  process.send?.({ type: 'ready', port: info.port })
})

let stopping = false
process.on('SIGTERM', async () => {
  if (stopping) return
  stopping = true
  server.close()
  await runtime.close()
  process.exit(0)
})
