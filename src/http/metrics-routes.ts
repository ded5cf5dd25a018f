import { Hono, type MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Metrics } from '../metrics/index.ts'

/** Counts every request by method, route pattern (never the raw path: ids would explode the labels) and status. */
export function httpMetrics(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now()
    await next()
    // The last matched route that is not middleware (`use` registers method ALL) answered the request.
    const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path ?? 'unmatched'
    metrics.observeHttp(c.req.method, route, c.res.status, (performance.now() - started) / 1000)
  }
}

/** GET /metrics in Prometheus text format; this process's registry only. */
export function createMetricsRoutes(metrics: Metrics): Hono {
  const routes = new Hono()
  routes.get('/', async (c) => {
    const body = await metrics.render()
    return c.body(body, 200, { 'content-type': metrics.contentType })
  })
  return routes
}

/** The worker-only process's tiny server on METRICS_PORT: /metrics and /healthz. */
export function createMetricsApp(metrics: Metrics): Hono {
  const app = new Hono()
  app.route('/metrics', createMetricsRoutes(metrics))
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  return app
}
