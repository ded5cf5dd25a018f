import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { Config } from '../config.ts'

/** For an HTML response that set no policy of its own: nothing loads, nothing frames it. */
export const DEFAULT_HTML_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * nosniff on every response; on HTML also a CSP (the route's own, else DEFAULT_HTML_CSP) that always
 * names frame-ancestors, X-Frame-Options to match it for old browsers, and Referrer-Policy no-referrer.
 */
export function securityHeaders(): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next()
    const headers = c.res.headers
    headers.set('X-Content-Type-Options', 'nosniff')
    if (!/^text\/html\b/i.test(headers.get('content-type') ?? '')) return
    let csp = headers.get('content-security-policy') ?? DEFAULT_HTML_CSP
    if (!/(^|;)\s*frame-ancestors\b/i.test(csp)) csp = `${csp}; frame-ancestors 'none'`
    headers.set('Content-Security-Policy', csp)
    if (!headers.has('x-frame-options')) {
      headers.set('X-Frame-Options', /frame-ancestors\s+'self'/i.test(csp) ? 'SAMEORIGIN' : 'DENY')
    }
    if (!headers.has('referrer-policy')) headers.set('Referrer-Policy', 'no-referrer')
  }
}

/**
 * CORS for /api/* from CORS_ORIGINS ("*" allows any origin); without it no CORS headers at all, so browsers
 * keep other origins out. Credentials are never allowed: browsers cannot replay a user's dashboard login.
 */
export function apiCors(config: Pick<Config, 'corsOrigins'>): MiddlewareHandler | undefined {
  if (config.corsOrigins.length === 0) return undefined
  return cors({
    origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
    allowMethods: ['GET', 'HEAD', 'POST'],
    allowHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Session-Id', 'Idempotency-Key', 'Last-Event-ID'],
    exposeHeaders: ['Retry-After'],
    maxAge: 600,
  })
}
