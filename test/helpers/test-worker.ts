// A worker process with test task kinds, started by e2e tests exactly as worker/main.ts starts.
import { openRuntime } from '../../src/runtime.ts'
import { closeEffectPool, TEST_PROCESS_TASKS } from './test-worker-tasks.ts'

const runtime = await openRuntime({ name: 'test-worker', tasks: TEST_PROCESS_TASKS, serves: { worker: true } })
runtime.queue.startWorker({ kinds: runtime.config.workerKinds })
process.send?.('ready')
let stopping = false
process.on('SIGTERM', async () => {
  if (stopping) return
  stopping = true
  await runtime.close()
  await closeEffectPool()
  process.exit(0)
})
