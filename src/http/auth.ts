import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, MiddlewareHandler } from 'hono'
import type { Config } from '../config.ts'
import { coerceError, AppError } from '../errors.ts'
import type { Queue } from '../queue/index.ts'
import { JobIdSchema } from './contract.ts'

/** Who a request was let in as: an API key's role, the owner of one job (its session_id), or nobody (auth off). */
export type AuthRole = 'admin' | 'client' | 'session' | 'open'

/** What a route asks for. 'status' is a client key or the job's own session_id. */
export type Access = 'open' | 'client' | 'status' | 'admin'

declare module 'hono' {
  interface ContextVariableMap {
    authRole: AuthRole
  }
}

const JOB_ACTION = /^\/api\/tasks\/[^/]+\/(?:cancel|requeue)$/
const JOB_STATUS = /^\/api\/tasks\/status\/([^/]+)(?:\/events)?$/

const KEY_HOWTO = ['Authorization: Bearer <key>', 'X-API-Key: <key>']
const SESSION_HOWTO = ['?session_id=<the session_id the job was enqueued with>', 'X-Session-Id: <session_id>']

/**
 * The access a request needs, by method and path (the path hono routes on, already percent-decoded).
 * Default-deny: only the probes, public metrics and GETs of the static wizard are open.
 */
export function requiredAccess(method: string, path: string, config: Pick<Config, 'metricsPublic'>): Access {
  if (path === '/healthz' || path === '/readyz') return 'open'
  if (path === '/metrics' || path.startsWith('/metrics/')) return config.metricsPublic ? 'open' : 'client'
  if (path === '/dashboard' || path.startsWith('/dashboard/')) return 'admin'
  if (path === '/api' || path.startsWith('/api/')) {
    // A listing site's page posts here with no API key: the session's intake token is its key.
    if (path === '/api/intake' && (method === 'POST' || method === 'OPTIONS')) return 'open'
    if (JOB_ACTION.test(path)) return 'admin'
    if ((method === 'GET' || method === 'HEAD') && JOB_STATUS.test(path)) return 'status'
    return 'client'
  }
  return method === 'GET' || method === 'HEAD' ? 'open' : 'client'
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest()

/**
 * True when `presented` hashes to one of `hashes`. Both sides are 32-byte digests, so timingSafeEqual
 * never sees unequal lengths (no length leak), and every configured key is compared (no early exit).
 */
function matchesAny(hashes: readonly Buffer[], presented: string): boolean {
  const digest = sha256(presented)
  let found = false
  for (const hash of hashes) found = timingSafeEqual(hash, digest) || found
  return found
}

type Presented = { key?: string; basic?: { user: string; password: string } }

function presentedCredentials(c: Context): Presented {
  const authorization = c.req.header('authorization')?.trim() ?? ''
  const bearer = /^Bearer\s+(\S.*)$/i.exec(authorization)?.[1]?.trim()
  if (bearer) return { key: bearer }
  const header = c.req.header('x-api-key')?.trim()
  if (header) return { key: header }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization)?.[1]
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    // `curl -u :KEY` and a browser's login prompt (any user name, the key as password) both present a key.
    if (colon >= 0) return { key: decoded.slice(colon + 1) || undefined, basic: { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) } }
  }
  return {}
}

function presentedSessionId(c: Context): string | undefined {
  return c.req.query('session_id') || c.req.header('x-session-id') || undefined
}

function deny(c: Context, status: 401 | 403, error: string, details: Record<string, unknown>, basicRealm = false) {
  if (status === 401) {
    c.header('WWW-Authenticate', basicRealm ? 'Basic realm="housler dashboard", Bearer realm="housler"' : 'Bearer realm="housler"')
  }
  c.header('Cache-Control', 'no-store')
  return c.json({ error, details }, status)
}

/** True when API keys are configured: from then on every route but the probes needs a key. */
export function isAuthEnabled(config: Pick<Config, 'apiKeys' | 'adminApiKeys'>): boolean {
  return config.apiKeys.length > 0 || config.adminApiKeys.length > 0
}

/**
 * API-key access control. With API_KEYS (or ADMIN_API_KEYS) set, every route except /healthz, /readyz,
 * the static wizard and (with METRICS_PUBLIC) /metrics needs a key; job actions and the dashboard need an
 * admin key; a job's status (and its SSE stream) also opens to the job's own session_id. Keys are held
 * only as SHA-256 digests. Without keys every route is open (the server then binds to loopback).
 */
export function apiAuth(deps: { config: Config; queue: Pick<Queue, 'getStatus'> }): MiddlewareHandler {
  const { config, queue } = deps
  const adminHashes = config.adminApiKeys.map(sha256)
  // An admin key is also a client key.
  const clientHashes = [...config.apiKeys, ...config.adminApiKeys].map(sha256)
  const dashboardLogin = Boolean(config.dashboardUser && config.dashboardPassword)

  function roleOf(key: string | undefined): 'admin' | 'client' | undefined {
    if (key === undefined) return undefined
    if (matchesAny(adminHashes, key)) return 'admin'
    return matchesAny(clientHashes, key) ? 'client' : undefined
  }

  async function ownsJob(c: Context, sessionId: string): Promise<boolean> {
    const jobId = JOB_STATUS.exec(c.req.path)?.[1]
    if (!JobIdSchema.safeParse(jobId).success) return false
    try {
      const body = await queue.getStatus(jobId!)
      return typeof body.session_id === 'string' && timingSafeEqual(sha256(body.session_id), sha256(sessionId))
    } catch (e) {
      const err = coerceError(e)
      // Unknown and expired jobs answer like a wrong session_id: no one learns which ids exist.
      if (err instanceof AppError && (err.code === 'JobNotFound' || err.code === 'JobExpired')) return false
      throw err
    }
  }

  if (!isAuthEnabled(config)) {
    return async function openAccess(c, next) {
      c.set('authRole', 'open')
      await next()
    }
  }

  return async function apiAuth(c, next) {
    const access = requiredAccess(c.req.method, c.req.path, config)
    if (access === 'open') return next()
    const presented = presentedCredentials(c)
    const role = roleOf(presented.key)
    if (role) c.set('authRole', role)

    if (access === 'admin') {
      if (role === 'admin') return next()
      const dashboard = c.req.path.startsWith('/dashboard')
      // DASHBOARD_USER/DASHBOARD_PASSWORD stay a dashboard login; the dashboard's own guard checks them.
      if (dashboard && dashboardLogin && presented.basic && !role) return next()
      if (role === 'client') {
        return deny(c, 403, 'This action needs an admin API key (ADMIN_API_KEYS)', { required: 'admin', presented: 'client' })
      }
      return deny(
        c,
        401,
        presented.key ? 'Invalid API key' : 'An admin API key is required',
        { required: 'admin', accepted: dashboard ? [...KEY_HOWTO, 'Basic auth with the admin key as password'] : KEY_HOWTO },
        dashboard,
      )
    }

    if (role) return next()
    if (access === 'status') {
      const sessionId = presentedSessionId(c)
      if (sessionId !== undefined && (await ownsJob(c, sessionId))) {
        c.set('authRole', 'session')
        return next()
      }
      return deny(c, 401, presented.key ? 'Invalid API key' : 'An API key or the job\'s session_id is required', {
        required: 'client or session',
        accepted: [...KEY_HOWTO, ...SESSION_HOWTO],
      })
    }
    return deny(c, 401, presented.key ? 'Invalid API key' : 'An API key is required', { required: 'client', accepted: KEY_HOWTO })
  }
}
