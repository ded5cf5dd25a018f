// A worker process with test task kinds, started by e2e tests exactly as worker/main.ts starts.
import type { EnqueueRequest } from '../../src/queue/index.ts'
import { openRuntime } from '../../src/runtime.ts'
import { closeEffectPool, TEST_PROCESS_TASKS } from './test-worker-tasks.ts'

const runtime = await openRuntime({ name: 'test-worker', tasks: TEST_PROCESS_TASKS, serves: { worker: true } })
runtime.queue.startWorker({ kinds: runtime.config.workerKinds })
// A test may have this process enqueue (its own worker can then claim the job on enqueue): { enqueue } → { jobId }.
process.on('message', (message: { enqueue?: EnqueueRequest }) => {
  if (!message.enqueue) return
  runtime.queue.enqueue(message.enqueue).then(
    ({ jobId }) => process.send?.({ jobId }),
    (e: Error) => process.send?.({ error: e.message }),
  )
})
process.send?.('ready')
let stopping = false
process.on('SIGTERM', async () => {
  if (stopping) return
  stopping = true
  await runtime.close()
  await closeEffectPool()
  process.exit(0)
})
