import { openRuntime, type Runtime } from '../src/runtime.ts'
import { exitOnStartupFailure } from '../src/startup.ts'
import { createTaskServices } from '../src/services.ts'

// A worker-only process: one per container or systemd instance; add or kill them at any time.
try {
  const runtime = await openRuntime({ name: 'worker', deps: createTaskServices, serves: { worker: true } })
  const { config, log, queue } = runtime
  const worker = queue.startWorker({ kinds: config.workerKinds })
  runtime.startCleanup()
  log.info({ worker_id: worker.id, kinds: queue.kinds, concurrency: config.workerConcurrency }, 'worker started')
  // Hono is loaded only for METRICS_PORT: an idle worker's memory is mostly the modules it loaded.
  const metricsServer = config.metricsPort ? await serveMetrics(runtime, config.metricsPort) : undefined
  if (metricsServer) log.info({ url: `http://${config.host}:${config.metricsPort}/metrics` }, 'worker metrics listening')

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
  exitOnStartupFailure('housler worker', e)
}

async function serveMetrics(runtime: Runtime, port: number) {
  const [{ listen }, { createMetricsApp }] = await Promise.all([import('../src/http/listen.ts'), import('../src/http/metrics-routes.ts')])
  return listen({ fetch: createMetricsApp(runtime.metrics).fetch, port, host: runtime.config.host, portVariable: 'METRICS_PORT' }).catch(async (e) => {
    await runtime.close()
    throw e
  })
}
