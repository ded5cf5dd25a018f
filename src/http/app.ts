import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Queue } from '../queue/index.ts'
import { HTTP_STATUS } from './errors.ts'
import { createTaskRoutes, RETRY_AFTER_SECONDS } from './tasks-routes.ts'
import { createDomainRoutes, type DomainReaders } from './domain-routes.ts'
import { createIntakeRoutes, IMPORT_PATH, INTAKE_PATH, intakeCors } from './intake-routes.ts'
import { pageBody } from './page-body.ts'
import { createRateLimiter } from './rate-limit.ts'
import { createDashboardRoutes } from './dashboard-routes.ts'
import { createMetricsRoutes, httpMetrics } from './metrics-routes.ts'
import { createStaticRoutes } from './static-routes.ts'
import { apiAuth } from './auth.ts'
import { apiCors, securityHeaders } from './security-headers.ts'
import { rejectUnstorableUrl } from './validate.ts'

export type AppDeps = { config: Config; queue: Queue; log: Logger; readers?: DomainReaders }

const STATUS_POLL = /^\/api\/tasks\/status\/[^/]+$/
const PAGE_PATHS = new Set(['/api/tasks/parse', INTAKE_PATH, IMPORT_PATH])

export function errorBody(error: string, details: unknown = null) {
  return { error, details }
}

/** The HTTP API: the guide's contract under /api/tasks, health probes, JSON errors everywhere. */
export function createApp(deps: AppDeps): Hono {
  const { config, queue, log } = deps
  const app = new Hono()

  app.use('*', httpMetrics(queue.metrics))
  // A status poll answered 2xx is logged at debug: clients poll every ~2 s per job, and a JSON line
  // each was ~10% of the API's CPU per poll (bench/RESULTS.md, scenario d). Everything else, and
  // every poll that fails, stays at info.
  const debugEnabled = log.isLevelEnabled('debug')
  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    const poll = c.req.method === 'GET' && c.res.status < 400 && STATUS_POLL.test(c.req.path)
    if (poll && !debugEnabled) return
    const route = c.req.routePath
    log[poll ? 'debug' : 'info'](
      { method: c.req.method, route, status: c.res.status, duration_ms: Math.round((performance.now() - started) * 10) / 10 },
      'request',
    )
  })
  app.use('*', securityHeaders())
  // The intake route has its own CORS (the listing sites' origins) and nothing else's.
  app.use(INTAKE_PATH, intakeCors(config))
  const cors = apiCors(config)
  if (cors) app.use('/api/*', (c, next) => (c.req.path === INTAKE_PATH ? next() : cors(c, next)))
  app.use('*', apiAuth({ config, queue }))
  app.use('*', rejectUnstorableUrl)
  const tooLarge = (c: Context) => c.json(errorBody('Request body too large', { limit_bytes: config.bodyLimitBytes }), 413)
  const limitBody = bodyLimit({ maxSize: config.bodyLimitBytes, onError: tooLarge })
  // hono's bodyLimit reads c.req.raw.body, which makes @hono/node-server build a full Request (every
  // header copied into undici Headers, ~25 µs) for each request, GETs included. With a Content-Length
  // (Node's parser holds the body to it) or no body at all the headers decide; only chunked bodies are counted.
  // Routes that take a whole page have their own, larger limit, counted after gzip decoding.
  const limitPage = pageBody(config.pageBodyLimitBytes)
  app.use('*', (c, next) => {
    if (c.req.method === 'POST' && PAGE_PATHS.has(c.req.path)) return limitPage(c, next)
    if (c.req.header('transfer-encoding') !== undefined) return limitBody(c, next)
    return Number.parseInt(c.req.header('content-length') ?? '0', 10) > config.bodyLimitBytes ? Promise.resolve(tooLarge(c)) : next()
  })

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    try {
      await queue.ping()
      return c.json({ status: 'ready', database: 'reachable' })
    } catch (e) {
      return c.json(errorBody('Database unreachable', { reason: coerceError(e).message }), 503)
    }
  })

  // Before the task routes: /api/tasks/pipeline is not a task kind.
  // One bucket per client across every enqueue route (per process: see README, rate limits).
  const rateLimit = createRateLimiter({ perMinute: config.rateLimitPerMinute })
  if (deps.readers) app.route('/', createDomainRoutes(queue, deps.readers, rateLimit))
  if (deps.readers) app.route('/', createIntakeRoutes({ config, queue, intake: deps.readers.intake, listings: deps.readers.listings }, rateLimit))
  app.route('/api/tasks', createTaskRoutes(deps, rateLimit))
  app.route('/dashboard', createDashboardRoutes(deps))
  app.route('/metrics', createMetricsRoutes(queue.metrics))

  app.route('/', createStaticRoutes())
  app.notFound((c) => c.json(errorBody('Not found', { method: c.req.method, path: c.req.path }), 404))
  app.onError((e, c) => {
    // Busy or unreachable is temporary: tell clients when to come back.
    if (queue.isBusy(e) || queue.isUnreachable(e)) {
      c.header('Retry-After', String(RETRY_AFTER_SECONDS))
    }
    if (e instanceof AppError) {
      const status = HTTP_STATUS[e.code]
      if (status >= 500 && e.code === 'Internal') log.error({ err: e.message, stack: e.stack }, 'internal error')
      return c.json(errorBody(e.message, e.details ?? { code: e.code }), status)
    }
    if (e instanceof HTTPException) {
      return c.json(errorBody(e.message || 'Bad request', { status: e.status }), e.status)
    }
    if (queue.isBusy(e)) {
      return c.json(errorBody('Queue database is at its connection limit; try again shortly', { code: 'DatabaseBusy', reason: coerceError(e).message }), 503)
    }
    if (queue.isUnreachable(e)) {
      return c.json(errorBody('Queue database unreachable; try again shortly', { reason: coerceError(e).message }), 503)
    }
    const error = coerceError(e)
    log.error({ err: error.message, stack: error.stack }, 'unhandled error')
    return c.json(errorBody('Internal Server Error', config.exposeErrors ? { message: error.message } : null), 500)
  })
  return app
}
