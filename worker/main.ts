import { ConfigError } from '../src/config.ts'
import { coerceError } from '../src/errors.ts'
import { openRuntime } from '../src/runtime.ts'
import { createTaskDeps } from '../src/tasks/deps.ts'

// A worker-only process: one per container or systemd instance; add or kill them at any time.
try {
  const runtime = await openRuntime({ name: 'worker', deps: createTaskDeps })
  const { config, log, queue } = runtime
  const worker = queue.startWorker({ kinds: config.workerKinds })
  queue.startCleanup()
  log.info({ worker_id: worker.id, kinds: queue.kinds, concurrency: config.workerConcurrency }, 'worker started')

  let shuttingDown = false
  const shutdown = async (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    log.info({ signal, running: worker.active().length, grace_seconds: config.shutdownGraceSeconds }, 'worker stopping')
    await runtime.close()
    log.info('worker stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
} catch (e) {
  const error = coerceError(e)
  console.error(error instanceof ConfigError ? error.message : `housler worker failed to start: ${error.message}`)
  process.exit(1)
}
