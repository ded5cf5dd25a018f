import { lookup } from 'node:dns/promises'
import type { AddressInfo } from 'node:net'
import { coerceError } from './errors.ts'
import { createApp } from './http/app.ts'
import { listen } from './http/listen.ts'
import { createPdfRenderer } from './pdf/index.ts'
import { openRuntime } from './runtime.ts'
import { exitOnStartupFailure } from './startup.ts'
import { createStores } from './store/index.ts'
import { createTaskServices } from './services.ts'
import { startRqCompat } from './rq-compat/index.ts'

const apiOnly = process.argv.includes('--api-only')
const OFFLINE_PROBE_HOST = 'cian.ru'

try {
  const runtime = await openRuntime({ name: apiOnly ? 'api' : 'server', deps: createTaskServices, serves: { api: true, worker: !apiOnly } })
  const { config, log, queue, metrics } = runtime
  const pdf = createPdfRenderer({ executablePath: config.browserExecutablePath, log })
  const app = createApp({ config, queue, metrics, log, readers: createStores(runtime.db.db), pdf })
  let server: Awaited<ReturnType<typeof listen>>
  try {
    server = await listen({ fetch: app.fetch, port: config.port, host: config.host, portVariable: 'PORT' })
  } catch (e) {
    await runtime.close()
    throw e
  }
  const worker = apiOnly ? undefined : queue.startWorker({ kinds: config.workerKinds })
  runtime.startCleanup()
  const bound = server.address() as AddressInfo // PORT=0 binds an ephemeral port: log the real one
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  log.info({ url: `http://${host}:${bound.port}`, worker: Boolean(worker) }, 'housler task service listening')
  if (config.apiKeys.length === 0 && config.host === '127.0.0.1') {
    log.warn('API_KEYS is not set: listening on loopback only (set API_KEYS, or HOST explicitly, to accept remote clients)')
  }
  // Listing sites are the first thing a new user pastes: say at once when this machine cannot reach them.
  if (config.fetchRewrite.size === 0) {
    lookup(OFFLINE_PROBE_HOST).catch(() =>
      log.warn(`listing sites cannot be reached from this machine (${OFFLINE_PROBE_HOST} does not resolve): try the product on saved pages with \`npm run demo\` (README: Trying it offline)`),
    )
  }

  // The Redis-protocol adapter is a side door: if its port is taken the API still serves, and says why.
  const rqCompat = await startRqCompat({ config, queue, log }).catch((e) => {
    const err = coerceError(e) as NodeJS.ErrnoException
    const fix = err.code === 'EADDRINUSE' ? `port ${config.rqCompatPort} is in use — set RQ_COMPAT_PORT to a free port, or 0 to turn it off` : err.message
    log.error({ err: err.message, port: config.rqCompatPort }, `Redis-protocol adapter not started: ${fix}`)
    return undefined
  })
  if (rqCompat) log.info({ url: `redis://${rqCompat.host}:${rqCompat.port}/0` }, 'Redis-protocol adapter listening (redis-cli, RQ, rq-dashboard)')

  let shuttingDown = false
  const shutdown = async (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    log.info({ signal }, 'shutting down: no new requests or jobs; finishing running jobs')
    server.close()
    await rqCompat?.close()
    await pdf.close()
    await runtime.close()
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
} catch (e) {
  exitOnStartupFailure('housler', e)
}
