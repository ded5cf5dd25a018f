import { timingSafeEqual } from 'node:crypto'
import { matchesAnyKey, sha256 } from '../api-keys.ts'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Queue } from '../queue/index.ts'
import { JobIdSchema } from './contract.ts'

/**
 * What a route group asks of a request once API keys are configured:
 * - public: nothing (probes, the static wizard, /metrics with METRICS_PUBLIC);
 * - client: a client or admin key;
 * - job-owner: a client key, or the session_id the route's `:job_id` was enqueued with;
 * - admin: an admin key (job actions);
 * - dashboard: an admin key or the DASHBOARD_USER/DASHBOARD_PASSWORD login; without keys the dashboard is
 *   still closed beyond loopback unless that login is set, so it is never exposed by accident.
 */
export type Access = 'public' | 'client' | 'job-owner' | 'admin' | 'dashboard'

/** Who a request was let in as: an API key's role, the owner of one job (its session_id), or nobody (auth off). */
export type AuthRole = 'admin' | 'client' | 'session' | 'open'

declare module 'hono' {
  interface ContextVariableMap {
    authRole: AuthRole
    /** The access level already checked for this request: a route's later handlers skip the same check. */
    accessChecked: Access
  }
}

const KEY_HOWTO = ['Authorization: Bearer <key>', 'X-API-Key: <key>']
const SESSION_HOWTO = ['?session_id=<the session_id the job was enqueued with>', 'X-Session-Id: <session_id>']
const BEARER_REALM = 'Bearer realm="housler"'
const DASHBOARD_REALM = 'Basic realm="housler dashboard", Bearer realm="housler"'
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])

type Presented = { key?: string; basic?: { user: string; password: string } }

/** The credentials a request presents: Bearer, X-API-Key, or Basic auth whose password is the key. */
export function presentedCredentials(c: Context): Presented {
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

function deny(c: Context, code: 'Unauthorized' | 'Forbidden', message: string, details: Record<string, unknown>, realm = BEARER_REALM): never {
  if (code === 'Unauthorized') c.header('WWW-Authenticate', realm)
  c.header('Cache-Control', 'no-store')
  throw new AppError(code, message, { details })
}

/** True when API keys are configured: from then on every route but the public ones needs a key. */
export function isAuthEnabled(config: Pick<Config, 'apiKeys' | 'adminApiKeys'>): boolean {
  return config.apiKeys.length > 0 || config.adminApiKeys.length > 0
}

export type AccessControl = {
  /** The guard of one route group; `mountRoutes` puts it in front of every route of the group. */
  requireAccess(access: Access): MiddlewareHandler
}

/**
 * API-key access control, decided per route group where the group is mounted (see `mountRoutes`).
 * Keys are held only as SHA-256 digests. Without keys every group but the dashboard is open (the
 * server then binds to loopback).
 */
export function createAccessControl(deps: { config: Config; queue: Pick<Queue, 'getStatus'> }): AccessControl {
  const { config, queue } = deps
  const enabled = isAuthEnabled(config)
  const adminHashes = config.adminApiKeys.map(sha256)
  // An admin key is also a client key.
  const clientHashes = [...config.apiKeys, ...config.adminApiKeys].map(sha256)
  const login =
    config.dashboardUser && config.dashboardPassword ? { user: sha256(config.dashboardUser), password: sha256(config.dashboardPassword) } : undefined

  function roleOf(key: string | undefined): 'admin' | 'client' | undefined {
    if (key === undefined || !enabled) return undefined
    if (matchesAnyKey(adminHashes, key)) return 'admin'
    return matchesAnyKey(clientHashes, key) ? 'client' : undefined
  }

  // Both fields are compared whatever the first says: no timing hint of which one was wrong.
  function loginMatches(basic: { user: string; password: string }): boolean {
    const user = timingSafeEqual(sha256(basic.user), login!.user)
    return timingSafeEqual(sha256(basic.password), login!.password) && user
  }

  async function ownsJob(c: Context, sessionId: string): Promise<boolean> {
    const jobId = c.req.param('job_id')
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

  async function dashboard(c: Context, presented: Presented, role: AuthRole | undefined): Promise<void> {
    if (role === 'admin') return
    if (login && presented.basic && role === undefined) {
      if (loginMatches(presented.basic)) return
      deny(c, 'Unauthorized', 'Invalid dashboard login', { required: 'dashboard login' }, DASHBOARD_REALM)
    }
    if (role === 'client') deny(c, 'Forbidden', 'The dashboard needs an admin API key (ADMIN_API_KEYS)', { required: 'admin', presented: 'client' })
    if (enabled || login) {
      const accepted = [...(enabled ? [...KEY_HOWTO, 'Basic auth with the admin key as password'] : []), ...(login ? ['Basic auth with DASHBOARD_USER/DASHBOARD_PASSWORD'] : [])]
      deny(c, 'Unauthorized', presented.key && enabled ? 'Invalid API key' : 'An admin API key or the dashboard login is required', { required: 'admin', accepted }, DASHBOARD_REALM)
    }
    if (!LOOPBACK_HOSTS.has(config.host)) {
      deny(c, 'Forbidden', 'Dashboard disabled: the server listens beyond loopback and DASHBOARD_USER/DASHBOARD_PASSWORD are not set', { host: config.host })
    }
  }

  async function check(c: Context, access: Access): Promise<void> {
    if (access === 'public') return
    if (!enabled && access !== 'dashboard') return c.set('authRole', 'open')
    const presented = presentedCredentials(c)
    const role = roleOf(presented.key)
    c.set('authRole', role ?? 'open')
    if (access === 'dashboard') return dashboard(c, presented, role)
    if (access === 'admin') {
      if (role === 'admin') return
      if (role === 'client') deny(c, 'Forbidden', 'This action needs an admin API key (ADMIN_API_KEYS)', { required: 'admin', presented: 'client' })
      deny(c, 'Unauthorized', presented.key ? 'Invalid API key' : 'An admin API key is required', { required: 'admin', accepted: KEY_HOWTO })
    }
    if (role) return
    if (access === 'job-owner') {
      const sessionId = presentedSessionId(c)
      if (sessionId !== undefined && (await ownsJob(c, sessionId))) return c.set('authRole', 'session')
      deny(c, 'Unauthorized', presented.key ? 'Invalid API key' : "An API key or the job's session_id is required", {
        required: 'client or session',
        accepted: [...KEY_HOWTO, ...SESSION_HOWTO],
      })
    }
    deny(c, 'Unauthorized', presented.key ? 'Invalid API key' : 'An API key is required', { required: 'client', accepted: KEY_HOWTO })
  }

  return {
    requireAccess(access) {
      const guard: MiddlewareHandler = async function requireAccess(c, next) {
        if (c.get('accessChecked') !== access) {
          await check(c, access)
          c.set('accessChecked', access)
        }
        await next()
      }
      GUARDS.set(guard, access)
      return guard
    },
  }
}

const GUARDS = new WeakMap<Function, Access>()

/** The access a handler of the app's route table enforces, if it is a `requireAccess` guard (tests read the route table). */
export function accessOf(handler: Function): Access | undefined {
  return GUARDS.get(handler)
}

const joinPath = (base: string, path: string) => (base === '/' ? path : path === '/' ? base : `${base}${path}`)

/**
 * The one way a route group joins the app: every route of `routes` is registered under `base` behind
 * `guard` (a `requireAccess`, then any per-request checks that must wait for it), so no route exists
 * without an access rule. (`app.route()` would apply a group's `use('*')` to every path under its base,
 * including other groups' routes.)
 */
export function mountRoutes(app: Hono, base: string, guard: readonly MiddlewareHandler[], routes: Hono): void {
  for (const route of routes.routes) app.on([route.method], [joinPath(base, route.path)], ...guard, route.handler)
}
