import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics/index.ts'
import type { Queue } from '../queue/index.ts'
import { errorResponse, toAppError } from './errors.ts'
import { createJobActionRoutes, createStatusRoutes, createTaskRoutes } from './tasks-routes.ts'
import { createDomainRoutes, type DomainReaders } from './domain-routes.ts'
import { createIntakeRoutes, IMPORT_PATH, INTAKE_PATH, intakeCors } from './intake-routes.ts'
import { pageBody } from './page-body.ts'
import { createRateLimiter } from './rate-limit.ts'
import { createDashboardRoutes } from './dashboard-routes.ts'
import { createMetricsRoutes, httpMetrics } from './metrics-routes.ts'
import { createStaticRoutes } from './static-routes.ts'
import { createAccessControl, mountRoutes, type Access } from './auth.ts'
import { createPdfRenderer, type PdfRenderer } from '../pdf/index.ts'
import { ADDED_ANALOG_PATH, createSharedReportRoutes, createValuationRoutes } from './valuation-routes.ts'
import { apiCors, securityHeaders } from './security-headers.ts'
import { rejectUnstorableUrl } from './validate.ts'

declare module 'hono' {
  interface ContextVariableMap {
    bodyChecked: boolean
  }
}

export type AppDeps = { config: Config; queue: Queue; metrics: Metrics; log: Logger; readers?: DomainReaders; pdf?: PdfRenderer }

const STATUS_POLL = /^\/api\/tasks\/status\/[^/]+$/
const PAGE_PATHS = new Set(['/api/tasks/parse', INTAKE_PATH, IMPORT_PATH])
const takesPage = (path: string) => PAGE_PATHS.has(path) || ADDED_ANALOG_PATH.test(path)

function createProbeRoutes(queue: Queue): Hono {
  const routes = new Hono()
  routes.get('/healthz', (c) => c.json({ status: 'ok' }))
  routes.get('/readyz', async (c) => {
    try {
      await queue.monitoring.ping()
    } catch (e) {
      throw new AppError('QueueUnavailable', 'Database unreachable', { cause: e, details: { reason: coerceError(e).message } })
    }
    return c.json({ status: 'ready', database: 'reachable' })
  })
  return routes
}

/** Whatever no route answers: a JSON 404, behind client access so unknown paths reveal nothing to strangers. */
function createNotFoundRoutes(): Hono {
  const routes = new Hono()
  routes.all('*', (c) => {
    throw new AppError('NotFound', 'Not found', { details: { method: c.req.method, path: c.req.path } })
  })
  return routes
}

/** The HTTP API: the task contract under /api/tasks (README, HTTP API), health probes, JSON errors everywhere. */
export function createApp(deps: AppDeps): Hono {
  const { config, queue, metrics, log } = deps
  const app = new Hono()

  app.use('*', httpMetrics(metrics))
  // Successful status polls (every 2 s per job) log at debug: a line each is a large share of the API's CPU.
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
  app.use('*', rejectUnstorableUrl)
  const tooLarge = () => {
    throw new AppError('PayloadTooLarge', 'Request body too large', { details: { limit_bytes: config.bodyLimitBytes } })
  }
  const limitBody = bodyLimit({ maxSize: config.bodyLimitBytes, onError: tooLarge })
  // Runs after the access check, so an unauthenticated body is refused unread. Only chunked bodies go
  // through hono's bodyLimit: it reads c.req.raw, which makes @hono/node-server build a full Request.
  // Routes that take a whole page have their own, larger limit, counted after gzip decoding.
  const limitPage = pageBody(config.pageBodyLimitBytes)
  const limitBodySize: MiddlewareHandler = (c, next) => {
    if (c.get('bodyChecked')) return next()
    c.set('bodyChecked', true)
    if (c.req.method === 'POST' && takesPage(c.req.path)) return limitPage(c, next)
    if (c.req.header('transfer-encoding') !== undefined) return limitBody(c, next)
    return Number.parseInt(c.req.header('content-length') ?? '0', 10) > config.bodyLimitBytes ? tooLarge() : next()
  }

  // Every route group says who may call it; the last group answers whatever no route matched.
  const { requireAccess } = createAccessControl({ config, queue })
  const mount = (base: string, access: Access, routes: Hono) => mountRoutes(app, base, [requireAccess(access), limitBodySize], routes)
  // One bucket per client across every enqueue route (per process: see README, rate limits).
  const rateLimit = createRateLimiter({ perMinute: config.rateLimitPerMinute })
  mount('/', 'public', createProbeRoutes(queue))
  mount('/metrics', config.metricsPublic ? 'public' : 'client', createMetricsRoutes(metrics))
  mount('/dashboard', 'dashboard', createDashboardRoutes(deps))
  mount('/api/tasks/status', 'job-owner', createStatusRoutes(deps))
  mount('/api/tasks', 'admin', createJobActionRoutes(deps))
  // Before the task routes: /api/tasks/pipeline is not a task kind.
  if (deps.readers) {
    // Chromium starts on the first PDF, not here.
    const pdf = deps.pdf ?? createPdfRenderer({ executablePath: config.browserExecutablePath, log })
    mount('/', 'client', createDomainRoutes(queue, deps.readers, rateLimit, { pdf }))
    if (deps.readers.shares) {
      const valuation = { config, queue, reports: deps.readers.reports, shares: deps.readers.shares, pdf, rateLimit }
      mount('/', 'client', createValuationRoutes(valuation))
      // A share link's signed token is its credential: a buyer opens it without a key.
      mount('/', 'public', createSharedReportRoutes(valuation))
    }
    const intake = createIntakeRoutes({ config, queue, intake: deps.readers.intake, listings: deps.readers.listings }, rateLimit)
    // A listing site's page posts its page with no API key: the session's intake token in the body is its key.
    mount('/', 'public', intake.submit)
    mount('/', 'client', intake.client)
  }
  mount('/api/tasks', 'client', createTaskRoutes(deps, rateLimit))
  mount('/', 'public', createStaticRoutes())
  mount('/', 'client', createNotFoundRoutes())

  app.onError((e, c) => {
    const error = toAppError(e, config.exposeErrors)
    if (error.code === 'Internal') {
      const cause = coerceError(error.cause ?? error)
      log.error({ err: cause.message, stack: cause.stack }, 'internal error')
    }
    return errorResponse(c, error)
  })
  return app
}
