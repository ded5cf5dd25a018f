import { serve } from '@hono/node-server'
import { ConfigError } from './config.ts'
import { coerceError } from './errors.ts'
import { createApp } from './http/app.ts'
import { openRuntime } from './runtime.ts'
import { createStores } from './store/index.ts'
import { createTaskServices } from './services.ts'

const apiOnly = process.argv.includes('--api-only')

try {
  const runtime = await openRuntime({ name: apiOnly ? 'api' : 'server', deps: createTaskServices })
  const { config, log, queue } = runtime
  const app = createApp({ config, queue, log, readers: createStores(runtime.db.db) })
  const worker = apiOnly ? undefined : queue.startWorker({ kinds: config.workerKinds })
  queue.startCleanup()
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    log.info({ url: `http://${info.address}:${info.port}`, worker: Boolean(worker) }, 'housler task service listening')
    if (config.apiKeys.length === 0 && config.host === '127.0.0.1') {
      log.warn('API_KEYS is not set: listening on loopback only (set API_KEYS, or HOST explicitly, to accept remote clients)')
    }
  })

  let shuttingDown = false
  const shutdown = async (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    log.info({ signal }, 'shutting down: no new requests or jobs; finishing running jobs')
    server.close()
    await runtime.close()
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
} catch (e) {
  const error = coerceError(e)
  console.error(error instanceof ConfigError ? error.message : `housler failed to start: ${error.message}`)
  process.exit(1)
}
