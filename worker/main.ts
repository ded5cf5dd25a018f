import { serve } from '@hono/node-server'
import { ConfigError } from '../src/config.ts'
import { coerceError } from '../src/errors.ts'
import { createMetricsApp } from '../src/http/metrics-routes.ts'
import { openRuntime } from '../src/runtime.ts'
import { createTaskServices } from '../src/services.ts'

// A worker-only process: one per container or systemd instance; add or kill them at any time.
try {
  const runtime = await openRuntime({ name: 'worker', deps: createTaskServices })
  const { config, log, queue } = runtime
  const worker = queue.startWorker({ kinds: config.workerKinds })
  queue.startCleanup()
  log.info({ worker_id: worker.id, kinds: queue.kinds, concurrency: config.workerConcurrency }, 'worker started')
  const metricsServer = config.metricsPort
    ? serve({ fetch: createMetricsApp(queue.metrics).fetch, port: config.metricsPort, hostname: config.host }, (info) =>
        log.info({ url: `http://${info.address}:${info.port}/metrics` }, 'worker metrics listening'),
      )
    : undefined

  let shuttingDown = false
  const shutdown = async (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    log.info({ signal, running: worker.active().length, grace_seconds: config.shutdownGraceSeconds }, 'worker stopping')
    metricsServer?.close()
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
