import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { ErrorBodySchema, StatusBodySchema } from '../../../src/http/contract.ts'
import { createApp } from '../../../src/http/app.ts'
import { accessOf } from '../../../src/http/auth.ts'
import { createSilentLogger } from '../../../src/log.ts'
import { createStores } from '../../../src/store/index.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask, failTask } from '../../helpers/tasks.ts'

const CLIENT = 'client-key-0123456789abcdef'
const OTHER_CLIENT = 'second-client-key'
const ADMIN = 'admin-key-fedcba9876543210'
const SECURED = { API_KEYS: `${CLIENT}, ${OTHER_CLIENT}`, ADMIN_API_KEYS: ADMIN }
const UNKNOWN_JOB = '2f0e4a8b-1234-4678-9abc-def012345678'

let service: TestService
let finishedJob: string
let reportId: string

type Who = 'none' | 'wrong' | 'client' | 'admin'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const KEYS: Record<Exclude<Who, 'none'>, string> = { wrong: 'not-a-key', client: CLIENT, admin: ADMIN }

function headersFor(who: Who, style: 'bearer' | 'x-api-key' = 'bearer'): Record<string, string> {
  if (who === 'none') return {}
  return style === 'bearer' ? bearer(KEYS[who]) : { 'x-api-key': KEYS[who] }
}

async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const headers = { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers }
  return service.app.request(path, { method: init.method ?? 'GET', headers, body: init.body })
}

async function errorOf(response: Response) {
  expect(response.headers.get('content-type')).toContain('application/json')
  return ErrorBodySchema.parse(await response.json())
}

/** Polls status the way the guide's snippet does, with the job's session_id as the only credential. */
function pollWithSession(jobId: string, sessionId: string, statuses: string[]) {
  return until(`job ${jobId} to reach ${statuses.join('/')}`, async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/status/${jobId}?session_id=${encodeURIComponent(sessionId)}`)
    expect(response.status).toBe(200)
    const body = StatusBodySchema.parse(await response.json())
    return statuses.includes(body.status) ? body : undefined
  }, 20_000, 25)
}

beforeAll(async () => {
  service = await startTestService({ tasks: [echoTask, failTask], domain: true, env: { ...SECURED, RATE_LIMIT_PER_MINUTE: '0' } })
  const enqueued = await call('/api/tasks/echo', { method: 'POST', headers: bearer(CLIENT), body: JSON.stringify({ session_id: 'sess-owner', value: 1 }) })
  expect(enqueued.status).toBe(202)
  finishedJob = (await enqueued.json()).job_id
  await pollWithSession(finishedJob, 'sess-owner', ['finished'])
  reportId = '7d3c1f0e-5b2a-4c1d-9e8f-0a1b2c3d4e5f'
  await createStores(service.db.db).reports.save({
    id: reportId,
    job_id: finishedJob,
    session_id: 'sess-owner',
    valuation: {} as never,
    html: '<!doctype html><h1>Отчёт</h1>',
    markdown: '# Отчёт',
  })
})
afterAll(() => service?.close())

type Route = { method: string; label: string; path: () => string; access: 'client' | 'admin'; body?: string }
const route = (method: string, label: string, path: () => string, access: Route['access'], body?: string): Route => ({ method, label, path, access, body })

/** Every protected route, with the access it needs. Bodies are valid enough that an admitted request never answers 401/403. */
const PROTECTED: readonly Route[] = [
  route('POST', 'POST /api/tasks/echo', () => '/api/tasks/echo', 'client', '{"value":"x"}'),
  route('POST', 'POST /api/tasks/pipeline', () => '/api/tasks/pipeline', 'client', '{"url":"not a url","session_id":"s"}'),
  route('GET', 'GET /api/tasks/status/:job', () => `/api/tasks/status/${finishedJob}`, 'client'),
  route('GET', 'GET /api/tasks/status/:job/events', () => `/api/tasks/status/${finishedJob}/events`, 'client'),
  route('GET', 'GET /api/tasks/queue-stats', () => '/api/tasks/queue-stats', 'client'),
  route('GET', 'GET /api/sessions/sess-owner', () => '/api/sessions/sess-owner', 'client'),
  route('GET', 'GET /api/reports/:report', () => `/api/reports/${reportId}`, 'client'),
  route('GET', 'GET /metrics', () => '/metrics', 'client'),
  route('GET', 'GET /api/no-such-route', () => '/api/no-such-route', 'client'),
  route('POST', 'POST /api/tasks/:unknown/cancel', () => `/api/tasks/${UNKNOWN_JOB}/cancel`, 'admin'),
  route('POST', 'POST /api/tasks/:unknown/requeue', () => `/api/tasks/${UNKNOWN_JOB}/requeue`, 'admin'),
  route('GET', 'GET /dashboard', () => '/dashboard', 'admin'),
  route('GET', 'GET /dashboard/jobs?status=failed', () => '/dashboard/jobs?status=failed', 'admin'),
  route('GET', 'GET /dashboard/api/jobs/:job', () => `/dashboard/api/jobs/${finishedJob}`, 'admin'),
  route('POST', 'POST /dashboard/api/jobs/:unknown/delete', () => `/dashboard/api/jobs/${UNKNOWN_JOB}/delete`, 'admin'),
  route('POST', 'POST /dashboard/api/queues/echo/empty', () => '/dashboard/api/queues/echo/empty', 'admin'),
  route('POST', 'POST /dashboard/api/requeue-failed', () => '/dashboard/api/requeue-failed', 'admin'),
]

describe('with API_KEYS set', () => {
  it.each(PROTECTED)('$label needs a key: 401 without one or with a wrong one', async ({ method, path, body }) => {
    for (const who of ['none', 'wrong'] as const) {
      const response = await call(path(), { method, headers: headersFor(who), body })
      expect(response.status, `${who} key`).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/Bearer realm="housler"/)
      const error = await errorOf(response)
      expect(error.error).toMatch(who === 'none' ? /required/ : /Invalid API key/)
      expect(error.details).toMatchObject({ accepted: expect.arrayContaining(['X-API-Key: <key>']) })
    }
  })

  it.each(PROTECTED)('$label ($access): a client key passes or gets 403, an admin key always passes', async ({ method, path, access, body }) => {
    const headers = { 'x-housler-dashboard': '1' }
    for (const style of ['bearer', 'x-api-key'] as const) {
      const asClient = await call(path(), { method, headers: { ...headers, ...headersFor('client', style) }, body })
      if (access === 'admin') {
        expect(asClient.status, `client via ${style}`).toBe(403)
        expect(await errorOf(asClient)).toMatchObject({ error: expect.stringMatching(/admin API key/), details: { required: 'admin' } })
      } else {
        expect([401, 403], `client via ${style}`).not.toContain(asClient.status)
      }
      if (!asClient.bodyUsed) await asClient.body?.cancel()
      const asAdmin = await call(path(), { method, headers: { ...headers, ...headersFor('admin', style) }, body })
      expect([401, 403], `admin via ${style}`).not.toContain(asAdmin.status)
      expect(asAdmin.status).toBeLessThan(500)
      if (!asAdmin.bodyUsed) await asAdmin.body?.cancel()
    }
  })

  it('accepts every configured key and nothing that merely resembles one', async () => {
    for (const key of [CLIENT, OTHER_CLIENT, ADMIN]) {
      expect((await call('/api/tasks/queue-stats', { headers: bearer(key) })).status, key).toBe(200)
    }
    const nearMisses = [CLIENT.slice(0, -1), `${CLIENT}x`, CLIENT.toUpperCase(), ` ${CLIENT}x`, `${CLIENT},${ADMIN}`, '', 'Bearer']
    for (const key of nearMisses) {
      const response = await call('/api/tasks/queue-stats', { headers: { 'x-api-key': key, authorization: `Bearer ${key}` } })
      expect(response.status, JSON.stringify(key)).toBe(401)
    }
  })

  it('keeps the probes and the static wizard open', async () => {
    for (const path of ['/healthz', '/readyz', '/', '/app.js']) {
      expect((await call(path)).status, path).toBe(200)
    }
  })

  it('classifies encoded and dot-segment paths as the route they reach', async () => {
    for (const path of ['/d%61shboard', '/x/../dashboard', '/dashboard/./jobs', `/api/tasks/${UNKNOWN_JOB}/c%61ncel`]) {
      const method = path.includes('ncel') ? 'POST' : 'GET'
      expect((await call(path, { method })).status, path).toBe(401)
      expect((await call(path, { method, headers: bearer(CLIENT) })).status, path).toBe(403)
    }
  })

  it('answers a POST to a static path with 401, never with the page', async () => {
    expect((await call('/', { method: 'POST', body: '{}' })).status).toBe(401)
  })
})

describe("status by the job's own session_id", () => {
  it('the guide snippet, enqueued by a backend with a key, polls to finished with ?session_id=', async () => {
    const enqueued = await call('/api/tasks/echo', { method: 'POST', headers: bearer(CLIENT), body: JSON.stringify({ session_id: 'browser-7', steps: 2 }) })
    const { job_id } = await enqueued.json()
    const body = await pollWithSession(job_id, 'browser-7', ['finished'])
    expect(body).toMatchObject({ job_id, session_id: 'browser-7', progress: 100 })
  })

  it('accepts the X-Session-Id header as well', async () => {
    const response = await call(`/api/tasks/status/${finishedJob}`, { headers: { 'x-session-id': 'sess-owner' } })
    expect(response.status).toBe(200)
    expect(StatusBodySchema.parse(await response.json()).job_id).toBe(finishedJob)
  })

  it('streams SSE status to the session owner', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/status/${finishedJob}/events?session_id=sess-owner`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    expect(await response.text()).toMatch(/event: status\ndata: .*"status":"finished"/)
  })

  it('answers 401 alike for a wrong session, another job, an unknown job and a malformed id', async () => {
    const other = await call('/api/tasks/echo', { method: 'POST', headers: bearer(CLIENT), body: JSON.stringify({ session_id: 'someone-else' }) })
    const otherJob = (await other.json()).job_id
    const noSession = await call('/api/tasks/echo', { method: 'POST', headers: bearer(CLIENT), body: '{}' })
    const noSessionJob = (await noSession.json()).job_id
    const cases = [
      [finishedJob, 'sess-owner-x'],
      [finishedJob, 'SESS-OWNER'],
      [finishedJob, ''],
      [otherJob, 'sess-owner'],
      [noSessionJob, 'null'],
      [UNKNOWN_JOB, 'sess-owner'],
      ['not-a-uuid', 'sess-owner'],
    ]
    const bodies = new Set<string>()
    for (const [jobId, sessionId] of cases) {
      for (const suffix of ['', '/events']) {
        const response = await call(`/api/tasks/status/${jobId}${suffix}?session_id=${encodeURIComponent(sessionId)}`)
        expect(response.status, `${jobId} ${sessionId}`).toBe(401)
        bodies.add(JSON.stringify(await errorOf(response)))
      }
    }
    // One body for every case: an unauthorised caller learns nothing about which jobs exist.
    expect(bodies.size).toBe(1)
  })

  it('opens nothing but that job’s status', async () => {
    const q = '?session_id=sess-owner'
    const headers = { 'x-session-id': 'sess-owner' }
    for (const [method, path] of [
      ['GET', `/api/tasks/queue-stats${q}`],
      ['GET', `/api/sessions/sess-owner${q}`],
      ['GET', `/api/reports/${reportId}${q}`],
      ['POST', `/api/tasks/${finishedJob}/requeue${q}`],
      ['POST', `/api/tasks/${finishedJob}/cancel${q}`],
      ['GET', `/dashboard/jobs/${finishedJob}${q}`],
    ] as const) {
      expect((await call(path, { method, headers })).status, path).toBe(401)
    }
    const enqueue = await call(`/api/tasks/echo${q}`, { method: 'POST', headers, body: '{"session_id":"sess-owner"}' })
    expect(enqueue.status).toBe(401)
  })
})

describe('admin actions', () => {
  it('cancel and requeue work with an admin key and are refused (403) to a client key', async () => {
    const failed = await call('/api/tasks/fail', { method: 'POST', headers: bearer(CLIENT), body: '{"session_id":"f"}' })
    const jobId = (await failed.json()).job_id
    await pollWithSession(jobId, 'f', ['failed'])
    const refused = await call(`/api/tasks/${jobId}/requeue`, { method: 'POST', headers: bearer(CLIENT) })
    expect(refused.status).toBe(403)
    expect((await pollWithSession(jobId, 'f', ['failed'])).status).toBe('failed')
    const requeued = await call(`/api/tasks/${jobId}/requeue`, { method: 'POST', headers: bearer(ADMIN) })
    expect(requeued.status).toBe(200)
    await pollWithSession(jobId, 'f', ['failed'])
  })

  it('opens the dashboard to a browser login with the admin key as password, and asks for Basic auth', async () => {
    const prompt = await call('/dashboard')
    expect(prompt.status).toBe(401)
    expect(prompt.headers.get('www-authenticate')).toMatch(/^Basic realm="housler dashboard"/)
    const page = await call('/dashboard', { headers: { authorization: `Basic ${btoa(`ops:${ADMIN}`)}` } })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('housler dashboard')
    const asClient = await call('/dashboard', { headers: { authorization: `Basic ${btoa(`ops:${CLIENT}`)}` } })
    expect(asClient.status).toBe(403)
  })

  it('runs a dashboard action with an admin key', async () => {
    const response = await call('/dashboard/api/requeue-failed', { method: 'POST', headers: { ...bearer(ADMIN), 'x-housler-dashboard': '1' } })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ message: expect.stringMatching(/^requeued \d+ failed jobs$/) })
  })

  it('keeps DASHBOARD_USER/DASHBOARD_PASSWORD as a dashboard login beside the admin key', async () => {
    const app = appWith({ ...SECURED, DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 's3cret' })
    expect((await app.request('/dashboard', { headers: { authorization: `Basic ${btoa('ops:s3cret')}` } })).status).toBe(200)
    expect((await app.request('/dashboard', { headers: bearer(ADMIN) })).status).toBe(200)
    expect((await app.request('/dashboard', { headers: { authorization: `Basic ${btoa('ops:wrong')}` } })).status).toBe(401)
    expect((await app.request('/dashboard', { headers: bearer(CLIENT) })).status).toBe(403)
    // The login opens the dashboard only, not the API.
    expect((await app.request(`/api/tasks/${UNKNOWN_JOB}/cancel`, { method: 'POST', headers: { authorization: `Basic ${btoa('ops:s3cret')}` } })).status).toBe(401)
  })

  it('locks everything to admins when only ADMIN_API_KEYS is set', async () => {
    const app = appWith({ ADMIN_API_KEYS: ADMIN })
    expect((await app.request('/api/tasks/queue-stats')).status).toBe(401)
    expect((await app.request('/api/tasks/queue-stats', { headers: bearer(ADMIN) })).status).toBe(200)
  })
})

describe('/metrics', () => {
  it('needs a key when API_KEYS is set, and not with METRICS_PUBLIC=true', async () => {
    expect((await appWith(SECURED).request('/metrics')).status).toBe(401)
    expect((await appWith(SECURED).request('/metrics', { headers: bearer(CLIENT) })).status).toBe(200)
    expect((await appWith({ ...SECURED, METRICS_PUBLIC: 'true' }).request('/metrics')).status).toBe(200)
  })
})

describe('with API_KEYS unset', () => {
  it('binds to loopback by default, and beyond it only when told', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1')
    expect(loadConfig({ API_KEYS: '' }).host).toBe('127.0.0.1')
    expect(loadConfig({ API_KEYS: CLIENT }).host).toBe('0.0.0.0')
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
  })

  it('leaves every route open', async () => {
    const app = appWith({})
    const enqueued = await app.request('/api/tasks/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"enqueue_in":3600}' })
    expect(enqueued.status).toBe(202)
    const { job_id } = await enqueued.json()
    expect((await app.request(`/api/tasks/status/${job_id}`)).status).toBe(200)
    expect((await app.request('/api/tasks/queue-stats')).status).toBe(200)
    expect((await app.request('/metrics')).status).toBe(200)
    expect((await app.request('/dashboard')).status).toBe(200)
    expect((await app.request(`/api/tasks/${job_id}/cancel`, { method: 'POST' })).status).toBe(200)
    // A key sent anyway is ignored rather than refused.
    expect((await app.request('/api/tasks/queue-stats', { headers: bearer('whatever') })).status).toBe(200)
  })
})

describe('access rules', () => {
  it('puts every route behind its group\'s access guard, and the expected one', () => {
    const app = appWith({ ...SECURED, METRICS_PUBLIC: 'false' })
    const expected: Array<[RegExp, string]> = [
      [/^\/(healthz|readyz)$/, 'public'],
      [/^\/metrics/, 'client'],
      [/^\/dashboard/, 'dashboard'],
      [/^\/api\/tasks\/status\//, 'job-owner'],
      [/^\/api\/tasks\/:job_id.*\/(cancel|requeue)$/, 'admin'],
      // A listing site's page posts with the session's intake token as its credential.
      [/^\/api\/intake$/, 'public'],
      // A share link's signed token is its credential: a buyer opens the report without a key.
      [/^\/shared\//, 'public'],
      [/^\/api\//, 'client'],
    ]
    const endpoints = app.routes.filter((route) => route.method !== 'ALL' && accessOf(route.handler) === undefined)
    expect(endpoints.length).toBeGreaterThan(15)
    for (const endpoint of endpoints) {
      const guards = app.routes
        .slice(0, app.routes.indexOf(endpoint))
        .filter((route) => route.path === endpoint.path && route.method === endpoint.method)
        .map((route) => accessOf(route.handler))
        .filter((access) => access !== undefined)
      const label = `${endpoint.method} ${endpoint.path}`
      expect(guards.length, label).toBeGreaterThan(0)
      expect(new Set(guards).size, label).toBe(1)
      const want = expected.find(([pattern]) => pattern.test(endpoint.path))?.[1]
      expect(guards[0], label).toBe(want)
    }
  })

  it('makes /metrics public only with METRICS_PUBLIC', () => {
    const guardOf = (app: ReturnType<typeof appWith>) => accessOf(app.routes.find((route) => route.path === '/metrics')!.handler)
    expect(guardOf(appWith(SECURED))).toBe('client')
    expect(guardOf(appWith({ ...SECURED, METRICS_PUBLIC: 'true' }))).toBe('public')
  })
})

function appWith(env: Record<string, string>) {
  const config = loadConfig({ DATABASE_URL: service.databaseUrl, LOG_LEVEL: 'silent', ...env })
  return createApp({ config, queue: service.queue, metrics: service.runtime.metrics, log: createSilentLogger(), readers: createStores(service.db.db) })
}
