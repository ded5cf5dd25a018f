import { METHODS } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { createApp } from '../../src/http/app.ts'
import { ErrorBodySchema } from '../../src/http/contract.ts'
import { createSilentLogger } from '../../src/log.ts'
import { createTaskServices } from '../../src/services.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { until } from '../helpers/processes.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { echoTask } from '../helpers/tasks.ts'
import { endpointsOf, fillPath, type Endpoint } from '../integration/security/endpoints.ts'

/**
 * Property: whatever a client sends to any route — random JSON or bytes as the body, random ids, kinds and
 * session ids in the path and query, random or huge header values, random methods — the service answers
 * below 500, within a deadline, and every 4xx carries {error, details}. In process (app.request) against
 * the real queue and database; worker only for `echo`, so no page is ever fetched.
 */

const CLIENT = 'fuzz-client-key'
const ADMIN = 'fuzz-admin-key'
const RUNS_PER_ENDPOINT = 300
const RUNS_UNKNOWN_ROUTES = 500
const REQUEST_DEADLINE_MS = 10_000

let service: TestService
const jobIds: string[] = []
const stats = { requests: 0, unsendable: 0, byStatus: new Map<number, number>() }
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)

type FuzzRequest = { method: string; path: string; headers: Record<string, string>; body?: string }

const describeRequest = (r: FuzzRequest) =>
  JSON.stringify({ ...r, path: r.path.slice(0, 300), body: r.body?.slice(0, 300), headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.slice(0, 100)])) })

async function send(request: FuzzRequest): Promise<void> {
  let built: Request
  // Node's HTTP parser answers any other method (lowercase ones, "constructor"…) with 400 before the app sees it.
  if (!METHODS.includes(request.method)) {
    stats.unsendable++
    return
  }
  try {
    built = new Request(`http://localhost${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    })
  } catch {
    // Not a request fetch could send (CONNECT, TRACE, an invalid URL): nothing reaches the service.
    stats.unsendable++
    return
  }
  stats.requests++
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${REQUEST_DEADLINE_MS} ms: ${describeRequest(request)}`)), REQUEST_DEADLINE_MS)
  })
  try {
    const response = await Promise.race([service.app.request(built), deadline])
    stats.byStatus.set(response.status, (stats.byStatus.get(response.status) ?? 0) + 1)
    const type = response.headers.get('content-type') ?? ''
    if (type.startsWith('text/event-stream')) {
      await response.body?.cancel()
      return
    }
    const text = await Promise.race([response.text(), deadline])
    if (response.status >= 500) throw new Error(`${response.status} ${text.slice(0, 500)} for ${describeRequest(request)}`)
    if (response.status >= 400 && request.method !== 'HEAD') {
      if (!type.includes('application/json')) throw new Error(`${response.status} without JSON (${type}) for ${describeRequest(request)}`)
      const parsed = ErrorBodySchema.safeParse(JSON.parse(text))
      if (!parsed.success || parsed.data.error.length === 0 || !('details' in parsed.data)) {
        throw new Error(`${response.status} body is not {error, details}: ${text.slice(0, 300)} for ${describeRequest(request)}`)
      }
    }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * it.each needs the route list while the file is collected, before beforeAll starts the service; the
 * route table does not depend on the database, so an app over a stub queue lists the same routes.
 */
function routeTable(): Endpoint[] {
  const tasks = [...TASKS, echoTask]
  const app = createApp({
    config: loadConfig({ LOG_LEVEL: 'silent' }),
    queue: { kinds: tasks.map((task) => task.kind), onStatusChange() {}, monitoring: { readsReplica: false } } as never,
    metrics: { observeHttp() {} } as never,
    log: createSilentLogger(),
    readers: {
      sessions: { find: async () => undefined },
      reports: { find: async () => undefined },
      intake: {} as never,
      listings: {} as never,
      shares: { create: async () => '', find: async () => undefined, revoke: async () => false, secret: async () => 'route-table-only' },
    },
  })
  return endpointsOf(app)
}

// ---- arbitraries -------------------------------------------------------------------------------

const SPECIAL_STRINGS = [
  '', ' ', '.', '..', '%', '%00', '%zz', '%E0%A4%A', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\uFEFF', "' or 1=1--", '"; DROP TABLE x; --',
  '<script>alert(1)</script>', 'null', 'undefined', 'NaN', '__proto__', 'constructor', 'prototype', '-1', '0', '1e309', '9'.repeat(40),
  'x'.repeat(300), 'y'.repeat(5000), 'échec', 'Привет', '🏠', '\t\n\r', '../../etc/passwd', 'http://127.0.0.1/', 'file:///etc/passwd',
]

/** Short strings over the characters that break things: NUL, lone surrogates, quotes, escapes, percent signs. */
const hostileString = fc.string({
  unit: fc.constantFrom('a', '0', ' ', '\u0000', '\ud800', '\udfff', '\ud83c\udfe0', '%', '%00', "'", '"', '\\', '/', '<', 'é', 'Ж', '\n'),
  minLength: 1,
  maxLength: 12,
})

const weirdString = fc.oneof(
  { arbitrary: hostileString, weight: 3 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.constantFrom(...SPECIAL_STRINGS), weight: 3 },
  { arbitrary: fc.string({ minLength: 1000, maxLength: 3000, unit: 'grapheme-ascii' }), weight: 1 },
)

const PLAUSIBLE = [
  'https://spb.cian.ru/sale/flat/315831388/', 'https://www.avito.ru/moskva/kvartiry/1', 'http://127.0.0.1:9/x', 'http://169.254.169.254/',
  'https://hooks.example.com/h', 'http://[::1]/', 'high', 'normal', 'low', 'auto', 'citywide', 'same_building', 'nearby', 'store', 'live',
  'both', 'finished', 'failed', 'canceled', '2030-01-01T00:00:00Z', '2000-01-01T00:00:00+03:00', 'tomorrow', 'евроремонт',
]

const plausibleValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileString.map((text) => ({ [text]: text })),
  fc.constantFrom(...PLAUSIBLE),
  weirdString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 20, 100, 101, 2 ** 31, -(2 ** 53), 1e308, 0.5),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
  fc.record({ price: fc.oneof(fc.integer(), fc.double(), weirdString), total_area: fc.double(), rooms: fc.integer({ min: -2, max: 12 }) }, { requiredKeys: [] }),
  fc.array(fc.constantFrom('finished', 'failed', 'canceled', 'started', 'x'), { maxLength: 5 }),
)

const FIELD_NAMES = [
  'url', 'session_id', 'target_property', 'target', 'comparables', 'overrides', 'limit', 'search_strategy', 'source', 'priority',
  'enqueue_in', 'enqueue_at', 'webhook_url', 'webhook_events', 'steps', 'value', 'report_id', 'excluded', '__proto__', 'constructor',
]

/** A valid body per route, for structured mutation: most fuzz bodies get past the type checks and reach SQL. */
const VALID_BODIES: Record<string, Record<string, unknown>> = {
  echo: { session_id: 'fuzz-session', value: { n: 1 }, steps: 0 },
  parse: { url: 'https://spb.cian.ru/sale/flat/315831388/', session_id: 'fuzz-session' },
  'find-similar': { session_id: 'fuzz-session', target_property: { price: 10_000_000, total_area: 50, rooms: 2 }, limit: 20, search_strategy: 'citywide', source: 'store' },
  report: { session_id: 'fuzz-session', overrides: { repair: 'евроремонт', ceiling_height: 3 } },
  pipeline: { url: 'https://spb.cian.ru/sale/flat/315831388/', session_id: 'fuzz-session', limit: 10 },
}

const mutatedValid = (base: Record<string, unknown>) => fc
  .record({
    edits: fc.array(
      fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...Object.keys(base)), weight: 3 }, fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 10 })), plausibleValue),
      { maxLength: 3 },
    ),
    meta: fc.record({ priority: fc.constantFrom('high', 'normal', 'low'), enqueue_in: fc.integer({ min: 0, max: 86_400 }) }, { requiredKeys: [] }),
  })
  .map(({ edits, meta }) => {
    const value: Record<string, unknown> = { ...base, ...meta }
    // defineProperty: an own "__proto__" key, as JSON.parse would make it, not a prototype change.
    for (const [key, edit] of edits) Object.defineProperty(value, key, { value: edit, enumerable: true, configurable: true, writable: true })
    return JSON.stringify(value)
  })

const nearValidObject = fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 10 })), plausibleValue, { maxKeys: 8 })

const RAW_BODIES = [
  '', '{', '{}', '[]', 'null', 'true', '"x"', '1', '{"a":1e999}', '{"steps":1e999}', '[' .repeat(5000), '{"a":'.repeat(3000),
  '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', '\uFEFF{}', '{}garbage',
  '{"url":"https://spb.cian.ru/sale/flat/1/","url":"http://127.0.0.1/","session_id":"s"}',
  '{"session_id":"\\u0000"}', '{"value":"\\ud800"}', '{"session_id":"a","value":{"\\u0000":1}}',
  `{"session_id":"${'x'.repeat(60_000)}"}`,
]

/** Mostly the route's own valid body with a few fields changed; else random JSON, cut JSON, bytes and known nasties. */
const bodyFor = (base: Record<string, unknown>) => fc.oneof(
  { arbitrary: mutatedValid(base), weight: 8 },
  { arbitrary: nearValidObject.map((value) => JSON.stringify(value)), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }).map((value) => JSON.stringify(value)), weight: 2 },
  { arbitrary: nearValidObject.chain((value) => fc.nat().map((cut) => JSON.stringify(value).slice(0, cut % (JSON.stringify(value).length + 1)))), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 1 },
  { arbitrary: fc.constantFrom(...RAW_BODIES), weight: 2 },
)
const body = bodyFor(VALID_BODIES.echo)

/** Header values a Request accepts: Latin-1 without CR, LF or NUL. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 80 }),
  fc.constantFrom('', ' ', 'x'.repeat(100_000), '\t', 'ÿ'),
)

const authorization = fc.oneof(
  { arbitrary: fc.constant({ authorization: `Bearer ${ADMIN}` }), weight: 10 },
  { arbitrary: fc.constant({ 'x-api-key': ADMIN }), weight: 2 },
  { arbitrary: fc.constant({ authorization: `Bearer ${CLIENT}` }), weight: 3 },
  { arbitrary: fc.constant({}), weight: 2 },
  { arbitrary: headerValue.map((value) => ({ authorization: value })), weight: 1 },
  { arbitrary: headerValue.map((value) => ({ authorization: `Bearer ${value}` })), weight: 1 },
  { arbitrary: headerValue.map((value) => ({ authorization: `Basic ${Buffer.from(value, 'latin1').toString('base64')}` })), weight: 1 },
  { arbitrary: headerValue.map((value) => ({ 'x-api-key': value })), weight: 1 },
)

const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 8 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8', 'application/vnd.api+json', 'APPLICATION/JSON', 'application/jsonx', 'text/plain',
      'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '',
    ),
    weight: 3,
  },
  { arbitrary: headerValue, weight: 1 },
)

const extraHeaders = fc.record(
  {
    'x-session-id': headerValue,
    'idempotency-key': fc.oneof(headerValue, fc.constantFrom('key-1', 'key-2')),
    'x-housler-dashboard': fc.constantFrom('1', '0', ''),
    origin: fc.constantFrom('https://evil.example', 'null', ''),
    'last-event-id': headerValue,
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html'),
  },
  { requiredKeys: [] },
)

const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'QUERY', 'PROPFIND', 'get', 'post', 'M-SEARCH', 'TRACE', 'CONNECT']
const anyMethod = fc.oneof(fc.constantFrom(...OTHER_METHODS), fc.stringMatching(/^[A-Za-z-]{1,12}$/))

const QUERY_KEYS = ['session_id', 'format', 'download', 'status', 'kind', 'page', 'q', 'limit']
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 })), fc.oneof(weirdString, fc.constantFrom('md', 'json', 'html', 'failed', 'queued', 'echo', '2', '-5', '99999999999999999999'))), { maxLength: 4 })
  .map((pairs) => {
    const encoded = pairs.map(([key, value]) => {
      try {
        return `${encodeURIComponent(key)}=${encodeURIComponent(value)}`
      } catch {
        return `${key}=${value}`
      }
    })
    return encoded.length ? `?${encoded.join('&')}` : ''
  })

function paramValue(name: string): fc.Arbitrary<string> {
  const ids = fc.oneof(
    { arbitrary: fc.constantFrom(...jobIds), weight: 4 },
    { arbitrary: fc.uuid(), weight: 2 },
    { arbitrary: fc.uuid().map((id) => id.toUpperCase()), weight: 1 },
    { arbitrary: weirdString, weight: 3 },
  )
  if (name === 'kind') return fc.oneof(fc.constantFrom(...service.queue.kinds, 'pipeline', 'queue-stats', 'status'), weirdString)
  if (name === 'session_id') return fc.oneof(fc.constantFrom('fuzz-session', 'no-such-session'), weirdString)
  return ids
}

/** Fills a pattern; a value that cannot be URI-encoded (lone surrogates) is put in raw, as a careless client would. */
function concretePath(endpoint: Endpoint, values: Record<string, string>): string {
  try {
    return fillPath(endpoint.pattern, values)
  } catch {
    return endpoint.pattern.replace(/:([A-Za-z_]+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g, (_m, name: string) => values[name] ?? '')
  }
}

function requestFor(endpoint: Endpoint): fc.Arbitrary<FuzzRequest> {
  const params = fc.record(Object.fromEntries(endpoint.params.map((name) => [name, paramValue(name)])) as Record<string, fc.Arbitrary<string>>)
  const method = fc.oneof({ arbitrary: fc.constant(endpoint.method), weight: 6 }, { arbitrary: anyMethod, weight: 1 })
  return params
    .chain((params) => {
      const kind = endpoint.pattern === '/api/tasks/pipeline' ? 'pipeline' : params.kind
      const body = bodyFor(kind !== undefined && Object.hasOwn(VALID_BODIES, kind) ? VALID_BODIES[kind] : VALID_BODIES.echo)
      return fc.record({ method, params: fc.constant(params), query, auth: authorization, type: contentType, extra: extraHeaders, body })
    })
    .map(({ method, params, query, auth, type, extra, body }) => {
      const upper = method.toUpperCase()
      const hasBody = upper !== 'GET' && upper !== 'HEAD'
      return {
        method,
        path: concretePath(endpoint, params) + query,
        headers: { ...extra, ...auth, ...(hasBody ? { 'content-type': type } : {}) },
        body: hasBody ? body : undefined,
      }
    })
}

// ---- tests -------------------------------------------------------------------------------------

beforeAll(async () => {
  process.on('unhandledRejection', onCrash)
  process.on('uncaughtException', onCrash)
  service = await startTestService({
    tasks: [...TASKS, echoTask],
    deps: createTaskServices,
    domain: true,
    worker: false,
    env: { API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, RATE_LIMIT_PER_MINUTE: '0', WEBHOOK_SECRET: 'fuzz-secret', SYNC_FALLBACK: 'false' },
  })
  // Only echo runs here: parse/find-similar jobs stay queued and never touch the network.
  const worker = service.queue.startWorker({ kinds: ['echo'] })
  const finished = (await service.queue.enqueue({ kind: 'echo', payload: { session_id: 'fuzz-session' }, sessionId: 'fuzz-session' })).jobId
  const canceled = (await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })).jobId
  await service.queue.cancel(canceled)
  const scheduled = (await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })).jobId
  const queuedParse = (await service.queue.enqueue({
    kind: 'parse',
    payload: { url: 'https://spb.cian.ru/sale/flat/1/', session_id: 'fuzz-session' },
    sessionId: 'fuzz-session',
  })).jobId
  jobIds.push(finished, canceled, scheduled, queuedParse)
  await until('the echo job to finish', async () => ((await service.queue.getStatus(finished)).status === 'finished' ? true : undefined), 20_000, 20)
  void worker
})

afterAll(async () => {
  process.off('unhandledRejection', onCrash)
  process.off('uncaughtException', onCrash)
  await service?.close()
  const statuses = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')
  console.log(`HTTP fuzz: ${stats.requests} requests sent (${stats.unsendable} generated requests no client could send); statuses ${statuses}; 5xx: ${[...stats.byStatus.keys()].filter((s) => s >= 500).length}`)
})

describe('HTTP fuzzing', () => {
  it('covers every route of the app', () => {
    const endpoints = endpointsOf(service.app)
    expect(routeTable()).toEqual(endpoints)
    expect(endpoints.length).toBeGreaterThanOrEqual(20)
    expect(endpoints.map((e) => `${e.method} ${e.pattern}`)).toEqual(
      expect.arrayContaining(['POST /api/tasks/pipeline', 'GET /api/tasks/status/:job_id/events', 'POST /dashboard/api/queues/:kind/empty', 'GET /api/reports/:id']),
    )
  })

  it.each(routeTable().map((e) => [`${e.method} ${e.pattern}`, e] as const))(
    '%s: never a 5xx or a hang, every 4xx is {error, details}',
    async (_name, endpoint) => {
      const before = stats.requests
      await fc.assert(fc.asyncProperty(requestFor(endpoint), send), { numRuns: RUNS_PER_ENDPOINT })
      expect(stats.requests - before).toBeGreaterThan(RUNS_PER_ENDPOINT / 2)
    },
  )

  it('unknown paths and random methods answer 4xx JSON', async () => {
    const path = fc
      .array(fc.oneof(weirdString, fc.constantFrom('api', 'tasks', 'status', 'dashboard', 'metrics', 'sessions', 'reports', 'events', 'cancel')), { minLength: 1, maxLength: 6 })
      .map((segments) =>
        segments
          .map((segment) => {
            try {
              return encodeURIComponent(segment)
            } catch {
              return segment
            }
          })
          .join('/'),
      )
    const request = fc.record({ method: anyMethod, path, query, auth: authorization, type: contentType, body }).map(({ method, path, query, auth, type, body }) => {
      const upper = method.toUpperCase()
      const hasBody = upper !== 'GET' && upper !== 'HEAD'
      return { method, path: `/${path}${query}`, headers: { ...auth, ...(hasBody ? { 'content-type': type } : {}) }, body: hasBody ? body : undefined }
    })
    await fc.assert(fc.asyncProperty(request, send), { numRuns: RUNS_UNKNOWN_ROUTES })
  })

  it('replays what earlier runs found (500s from Postgres, now 400s)', async () => {
    const admin = { authorization: `Bearer ${ADMIN}`, 'x-housler-dashboard': '1' }
    const json = { ...admin, 'content-type': 'application/json' }
    const found: FuzzRequest[] = [
      { method: 'POST', path: '/api/tasks/echo', headers: json, body: '{"session_id":"\\u0000a"}' },
      { method: 'POST', path: '/api/tasks/echo', headers: json, body: '{"value":{"k":["\\ud800"]}}' },
      { method: 'POST', path: '/api/tasks/echo', headers: json, body: '{"value":{"\\u0000":1}}' },
      { method: 'POST', path: '/api/tasks/pipeline', headers: json, body: '{"url":"https://spb.cian.ru/sale/flat/1/","session_id":"a\\u0000b"}' },
      { method: 'GET', path: '/api/sessions/%00', headers: admin },
      { method: 'GET', path: '/dashboard/jobs?session_id=%00', headers: admin },
      { method: 'GET', path: '/dashboard/api/jobs?kind=a%00', headers: admin },
      { method: 'GET', path: '/dashboard/jobs?page=99999999999999999999', headers: admin },
      { method: 'POST', path: '/dashboard/api/queues/a%00/empty', headers: admin },
    ]
    for (const request of found) {
      await send(request)
      const response = await service.app.request(`http://localhost${request.path}`, { method: request.method, headers: request.headers, body: request.body })
      expect(response.status, request.path).toBe(400)
    }
  })

  it('left no prototype polluted and no uncaught error behind', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(crashes).toEqual([])
  })
})
