import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { createApp } from '../../../src/http/app.ts'
import { ErrorBodySchema } from '../../../src/http/contract.ts'
import { createSilentLogger } from '../../../src/log.ts'
import { createStores } from '../../../src/store/index.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask, failTask } from '../../helpers/tasks.ts'
import { endpointsOf, fillPath } from './endpoints.ts'

const CLIENT = 'client-key-for-headers'
const ADMIN = 'admin-key-for-headers'
const LIMIT = 2048
/** Routes that take a whole page (parse with html, intake, import) have their own limit. */
const PAGE_LIMIT = 65536
const PAGE_ROUTES = new Set(['/api/tasks/parse', '/api/intake', '/api/listings/import', '/api/sessions/sess-h/analogs'])
const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN}`, 'x-housler-dashboard': '1' }

let service: TestService
let jobId: string
const REPORT_ID = '5e0b8f7a-3c2d-4e1f-8a9b-0c1d2e3f4a5b'

beforeAll(async () => {
  service = await startTestService({
    tasks: [echoTask, failTask],
    domain: true,
    worker: false,
    env: { API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, BODY_LIMIT_BYTES: String(LIMIT), PAGE_BODY_LIMIT_BYTES: String(PAGE_LIMIT), RATE_LIMIT_PER_MINUTE: '0' },
  })
  jobId = (await service.queue.enqueue({ kind: 'echo', payload: { session_id: 'sess-h' }, sessionId: 'sess-h' })).jobId
  await createStores(service.db.db).reports.save({
    id: REPORT_ID,
    job_id: jobId,
    session_id: 'sess-h',
    valuation: {} as never,
    html: '<!doctype html><h1>Отчёт</h1>',
    markdown: '# Отчёт',
  })
})
afterAll(() => service?.close())

function appWith(env: Record<string, string>) {
  const config = loadConfig({ DATABASE_URL: service.databaseUrl, LOG_LEVEL: 'silent', ...env })
  return createApp({ config, queue: service.queue, metrics: service.runtime.metrics, log: createSilentLogger(), readers: createStores(service.db.db) })
}

/** Concrete URLs for every route of the app: each task kind for :kind, a real job for ids, the stored report. */
function concreteRoutes(method: string) {
  return endpointsOf(service.app)
    .filter((endpoint) => endpoint.method === method)
    .flatMap((endpoint) => {
      const kinds = endpoint.params.includes('kind') ? service.queue.kinds : ['-']
      return kinds.map((kind) =>
        fillPath(endpoint.pattern, { kind, job_id: jobId, id: endpoint.pattern.startsWith('/api/reports') ? REPORT_ID : jobId, session_id: 'sess-h', token: 'not-a-share-token' }),
      )
    })
}

function oversizedJson(bytes: number): string {
  const shell = '{"value":""}'
  return `{"value":"${'x'.repeat(bytes - shell.length)}"}`
}

describe('request body limits', () => {
  it('answers 413 {error, code, details} on every POST route, with and without Content-Length, and admits a body at the limit', async () => {
    const routes = concreteRoutes('POST')
    expect(routes).toEqual(expect.arrayContaining(['/api/tasks/echo', '/api/tasks/pipeline', `/api/tasks/${jobId}/cancel`, '/dashboard/api/requeue-failed']))
    let tried = 0
    for (const path of routes) {
      const limit = PAGE_ROUTES.has(path) ? PAGE_LIMIT : LIMIT
      const declared = await fetch(service.baseUrl + path, {
        method: 'POST',
        headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
        body: oversizedJson(limit + 1),
      })
      expect(declared.status, `${path} with Content-Length`).toBe(413)
      expect(ErrorBodySchema.parse(await declared.json())).toEqual({ error: 'Request body too large', code: 'PayloadTooLarge', details: { limit_bytes: limit } })

      const body = new TextEncoder().encode(oversizedJson(limit * 4))
      const chunked = await fetch(service.baseUrl + path, {
        method: 'POST',
        headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            for (let at = 0; at < body.length; at += 512) controller.enqueue(body.subarray(at, at + 512))
            controller.close()
          },
        }),
        duplex: 'half',
      } as RequestInit)
      expect(chunked.status, `${path} chunked`).toBe(413)
      await chunked.body?.cancel()

      const atLimit = await fetch(service.baseUrl + path, {
        method: 'POST',
        headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
        body: oversizedJson(limit),
      })
      expect(atLimit.status, `${path} at the limit`).not.toBe(413)
      expect(atLimit.status).toBeLessThan(500)
      await atLimit.body?.cancel()
      tried++
    }
    console.log(`body limit: ${tried} POST routes answered 413 over ${LIMIT} bytes (declared and chunked)`)
  })

  it('refuses an unauthenticated oversized body with 401 before reading it', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: oversizedJson(LIMIT * 10),
    })
    expect(response.status).toBe(401)
  })
})

describe('security headers', () => {
  it('sends nosniff on every GET route, and a CSP with frame-ancestors and no-referrer on every HTML one', async () => {
    let html = 0
    const routes = [...concreteRoutes('GET'), '/', '/index.html', '/api/nothing', `/api/tasks/status/${jobId}/events`]
    for (const path of routes) {
      const response = await service.app.request(path.endsWith('/events') ? path.replace(jobId, 'not-a-uuid') : path, { headers: ADMIN_HEADERS })
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff')
      if (response.headers.get('content-type')?.startsWith('text/html')) {
        html++
        expect(response.headers.get('content-security-policy'), path).toMatch(/frame-ancestors '(none|self)'/)
        expect(response.headers.get('referrer-policy'), path).toBe('no-referrer')
        expect(response.headers.get('x-frame-options'), path).toMatch(/^(DENY|SAMEORIGIN)$/)
      } else if (response.status !== 302) {
        expect(response.headers.get('content-type'), path).toMatch(/^(application\/json|text\/plain; version=0\.0\.4)/)
      }
      await response.body?.cancel()
    }
    console.log(`security headers: ${routes.length} GET routes checked, ${html} of them HTML`)
    expect(html).toBeGreaterThanOrEqual(4)
  })

  it('gives the wizard a strict CSP that forbids framing', async () => {
    const response = await service.app.request('/')
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/)
    expect(response.headers.get('x-frame-options')).toBe('DENY')
  })

  it("allows the dashboard's own inline script by hash and nothing else", async () => {
    const response = await service.app.request('/dashboard', { headers: ADMIN_HEADERS })
    const csp = response.headers.get('content-security-policy') ?? ''
    const page = await response.text()
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1])
    expect(scripts).toHaveLength(1)
    const hash = createHash('sha256').update(scripts[0]).digest('base64')
    expect(csp).toContain(`script-src 'sha256-${hash}'`)
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(csp).toMatch(/frame-ancestors 'none'/)
  })

  it('lets a report be framed by the wizard only (SAMEORIGIN)', async () => {
    const response = await service.app.request(`/api/reports/${REPORT_ID}`, { headers: ADMIN_HEADERS })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'self'/)
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN')
  })

  it('sends nosniff on error bodies too (401, 403, 404, 413)', async () => {
    const responses = [
      await service.app.request('/api/tasks/queue-stats'),
      await service.app.request(`/api/tasks/${jobId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${CLIENT}` } }),
      await service.app.request('/api/nothing', { headers: ADMIN_HEADERS }),
      await fetch(`${service.baseUrl}/api/tasks/echo`, { method: 'POST', headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' }, body: oversizedJson(LIMIT + 1) }),
    ]
    expect(responses.map((r) => r.status)).toEqual([401, 403, 404, 413])
    for (const response of responses) expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('CORS', () => {
  const origin = 'https://app.example'

  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const simple = await service.app.request('/api/tasks/queue-stats', { headers: { origin, authorization: `Bearer ${CLIENT}` } })
    expect(simple.status).toBe(200)
    expect([...simple.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([])
    const preflight = await service.app.request('/api/tasks/echo', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key' },
    })
    expect(preflight.status).toBe(401)
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('allows exactly the configured origins, without credentials', async () => {
    const app = appWith({ API_KEYS: CLIENT, CORS_ORIGINS: `${origin}, https://other.example` })
    const allowed = await app.request('/api/tasks/queue-stats', { headers: { origin, 'x-api-key': CLIENT } })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin)
    expect(allowed.headers.get('vary')).toMatch(/origin/i)
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull()

    const foreign = await app.request('/api/tasks/queue-stats', { headers: { origin: 'https://evil.example', 'x-api-key': CLIENT } })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()

    const preflight = await app.request('/api/tasks/echo', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key, content-type' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin)
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-api-key')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).not.toContain('x-housler-dashboard')
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('lets an allowed origin read a 401, and keeps the dashboard out of CORS', async () => {
    const app = appWith({ API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, CORS_ORIGINS: origin })
    const unauthorised = await app.request('/api/tasks/queue-stats', { headers: { origin } })
    expect(unauthorised.status).toBe(401)
    expect(unauthorised.headers.get('access-control-allow-origin')).toBe(origin)
    const dashboard = await app.request('/dashboard', { headers: { origin, authorization: `Bearer ${ADMIN}` } })
    expect(dashboard.status).toBe(200)
    expect(dashboard.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('allows any origin with CORS_ORIGINS=*', async () => {
    const response = await appWith({ CORS_ORIGINS: '*' }).request('/api/tasks/queue-stats', { headers: { origin: 'https://anywhere.example' } })
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })
})
