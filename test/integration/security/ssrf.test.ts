import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { loadConfig } from '../../../src/config.ts'
import { createBrowserPool, createFetcher, type BrowserPool, type FetchConfig } from '../../../src/fetch/index.ts'
import { createStores } from '../../../src/store/index.ts'
import { parseTask } from '../../../src/tasks/parse/index.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'
import { startServer, type TestServer } from '../fetch/test-servers.ts'
import { createHostileResolver, DNS_HOSTILE, LITERAL_HOSTILE } from './hostile-urls.ts'

/**
 * SSRF as one suite: the table in hostile-urls.ts against both ways the service reaches user-given URLs —
 * page fetching (POST /api/tasks/parse, then the parse job's fetcher) and webhook delivery (webhook_url at
 * enqueue, then postWebhook) — directly, by DNS and through redirects. A canary listening on loopback
 * (both families) counts every TCP connection it receives: it must stay at zero.
 */

type Canary = { port: number; connections: number; requests: number; close(): Promise<void> }

async function startCanary(): Promise<Canary> {
  const sockets = new Set<Socket>()
  const canary = { port: 0, connections: 0, requests: 0, close: async () => {} }
  const server = http.createServer((_req, res) => {
    canary.requests++
    res.end('canary reached')
  })
  server.on('connection', (socket) => {
    canary.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  // '::' without ipv6Only takes 127.0.0.1 and ::1 (and this host's other addresses) on one port.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: 0, host: '::', ipv6Only: false }, resolve)
  })
  canary.port = (server.address() as AddressInfo).port
  canary.close = () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  return canary
}

let canary: Canary
let redirector: TestServer
let receiver: TestServer
let service: TestService
const resolver = createHostileResolver()
const tried = {
  parseEnqueue: 0,
  webhookEnqueue: 0,
  parseJobs: 0,
  redirects: 0,
  browserDns: 0,
  browserRedirects: 0,
  browserSubrequests: 0,
  webhookDns: 0,
  webhookRedirects: 0,
}
/** Literal URLs and DNS host names tried at least once. */
const hostileUrls = new Set<string>()
let canaryAfterSuite: number | undefined
let browserPool: BrowserPool | undefined

/** A listing page that asks for every hostile URL in every way a page can: tags, fetch, XHR, WebSocket, beacons, preconnect. */
function hostileRequestsPage(urls: readonly string[]): string {
  const list = JSON.stringify(urls)
  const tags = urls
    .map((url) => {
      const href = asLocation(url).replace(/"/g, '%22')
      return `<img src="${href}"><script src="${href}"></script><link rel="stylesheet" href="${href}"><link rel="preconnect" href="${href}"><iframe src="${href}"></iframe>`
    })
    .join('\n')
  return `<!doctype html><html><head><title>Квартира</title></head><body><h1>Квартира, 45 м²</h1>${tags}
<script>
for (const url of ${list}) {
  fetch(url).catch(() => {})
  try { const x = new XMLHttpRequest(); x.open('GET', url); x.send() } catch {}
  try { navigator.sendBeacon(url, 'x') } catch {}
  try { new WebSocket(url.replace(/^http/, 'ws')) } catch {}
  try { new EventSource(url) } catch {}
}
try { const pc = new RTCPeerConnection({ iceServers: [{ urls: 'stun:127.0.0.1:' + location.port }] }); pc.createDataChannel('x'); pc.createOffer().then((o) => pc.setLocalDescription(o)) } catch {}
document.title = 'Квартира: запросы отправлены'
</script></body></html>`
}

const literalUrls = () => LITERAL_HOSTILE.map((entry) => entry.url(canary.port))
const dnsUrls = () => DNS_HOSTILE.map((entry) => `http://${entry.host}:${canary.port}/sale/flat/1/`)
const json = { 'content-type': 'application/json' }
// A Location header is ASCII: non-ASCII (the fullwidth digits) goes percent-encoded, which URL parsing undoes.
const asLocation = (url: string) => url.replace(/[^\x00-\x7f]/g, (char) => encodeURIComponent(char))

beforeAll(async () => {
  canary = await startCanary()
  // The listing site as the operator's FETCH_REWRITE mirror: /to/<n> redirects to the n-th hostile URL.
  redirector = await startServer((_req, res, seen) => {
    if (seen.path === '/hostile-requests') {
      return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(hostileRequestsPage([...literalUrls(), ...dnsUrls()]))
    }
    const target = [...literalUrls(), ...dnsUrls()][Number(/^\/to\/(\d+)$/.exec(seen.path)?.[1] ?? -1)]
    if (target === undefined) return void res.writeHead(404).end()
    res.writeHead(302, { location: asLocation(target) }).end()
  })
  receiver = await startServer((_req, res, seen) => {
    const target = [...literalUrls(), ...dnsUrls()][Number(/^\/hook\/(\d+)$/.exec(seen.path)?.[1] ?? -1)]
    res.writeHead(target === undefined ? 404 : 307, target === undefined ? {} : { location: asLocation(target) }).end()
  })
  service = await startTestService({
    tasks: [parseTask, echoTask],
    deps: (config, db) => ({ config, fetcher: createFetcher(config, { resolveHost: resolver, retryBaseDelayMs: 5 }), ...createStores(db.db) }),
    worker: { concurrency: 8 },
    env: {
      FETCH_REWRITE: `https://spb.cian.ru=${redirector.origin}`,
      FETCH_RETRIES: '2',
      FETCH_CONNECT_TIMEOUT_MS: '200',
      FETCH_TIMEOUT_MS: '2000',
      WEBHOOK_SECRET: 'ssrf-suite',
      RATE_LIMIT_PER_MINUTE: '0',
    },
  })
})

afterAll(async () => {
  await browserPool?.close()
  await service?.close()
  await Promise.all([redirector?.close(), receiver?.close()])
  await canary?.close()
  const total = Object.values(tried).reduce((sum, n) => sum + n, 0)
  console.log(
    `SSRF suite: ${hostileUrls.size} hostile URLs tried (${LITERAL_HOSTILE.length} literal, ${DNS_HOSTILE.length} host names by DNS incl. rebinding), ` +
      `${total} attempts (${Object.entries(tried).map(([k, n]) => `${k} ${n}`).join(', ')}); canary connections during the suite: ${canaryAfterSuite ?? 'not checked'}`,
  )
})

async function enqueue(kind: string, body: object) {
  const response = await fetch(`${service.baseUrl}/api/tasks/${kind}`, { method: 'POST', headers: json, body: JSON.stringify(body) })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

function fetcherConfig(overrides: Partial<FetchConfig> = {}): FetchConfig {
  return {
    listingHosts: [],
    fetchRewrite: new Map(),
    fetchTimeoutMs: 2000,
    fetchConnectTimeoutMs: 200,
    fetchMaxBytes: 1024 * 1024,
    fetchRetries: 2,
    webhookAllowlist: [],
    ...overrides,
  }
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`)
  return error
}

describe('page fetching', () => {
  it('POST /api/tasks/parse answers 400 for every literal hostile URL, before any job or lookup', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    for (const url of literalUrls()) {
      const { status, body } = await enqueue('parse', { url, session_id: 'ssrf' })
      expect(status, url).toBe(400)
      expect(body.details.reason, url).toMatch(/^(ip-literal|host-not-allowed|credentials|malformed)$/)
      tried.parseEnqueue++
      hostileUrls.add(url)
    }
    expect(await service.queue.monitoring.stats({ fresh: true })).toEqual(before)
    expect(resolver.calls).toEqual([])
    expect(canary.connections).toBe(0)
  })

  it('a parse job of a listing-site name that resolves to a forbidden address fails, and no socket opens', async () => {
    const jobs: Array<[string, string]> = []
    for (const url of dnsUrls()) {
      const { status, body } = await enqueue('parse', { url, session_id: 'ssrf' })
      // Only DNS can tell these apart from a real listing: the job is queued, and its fetch is refused.
      expect(status, url).toBe(202)
      jobs.push([url, body.job_id])
    }
    for (const [url, jobId] of jobs) {
      const final = await waitForStatus(service.baseUrl, jobId, ['failed', 'finished'])
      expect(final.status, url).toBe('failed')
      expect(final.error, url).toMatch(/resolves to a forbidden address/)
      tried.parseJobs++
    }
    for (const entry of DNS_HOSTILE) expect(resolver.calls, entry.host).toContain(entry.host)
    // Rebinding: looked up again for the retry, and that answer was checked too.
    expect(resolver.calls.filter((host) => host === 'rebind.ssrf.cian.ru').length).toBeGreaterThanOrEqual(2)
    expect(canary.connections).toBe(0)
  })

  it('a parse job whose listing page redirects to any hostile URL fails with the redirect refused', async () => {
    const targets = [...literalUrls(), ...dnsUrls()]
    const jobs: Array<[string, string]> = []
    for (const [index, target] of targets.entries()) {
      const { status, body } = await enqueue('parse', { url: `https://spb.cian.ru/to/${index}`, session_id: 'ssrf' })
      expect(status).toBe(202)
      jobs.push([target, body.job_id])
    }
    for (const [target, jobId] of jobs) {
      // A Location the URL parser cannot read is a retryable fetch failure: the job waits for its retry (scheduled).
      const final = await waitForStatus(service.baseUrl, jobId, ['failed', 'finished', 'scheduled'])
      expect(final.status, target).not.toBe('finished')
      expect(final.error, target).toMatch(/^Redirect refused|resolves to a forbidden address|redirected to a malformed Location/)
      tried.redirects++
    }
    // Every hostile redirect was served (a job whose Location was unreadable may have been retried since).
    expect(new Set(redirector.requests.map((request) => request.path)).size).toBe(targets.length)
    expect(canary.connections).toBe(0)
  })
})

// Chromium on a busy two-core machine takes seconds per page: these tests get minutes, not the default 30 s.
describe('page fetching through the browser rung', { timeout: 300_000 }, () => {
  const browserFetcher = (resolveHost = resolver, timeoutMs = 5000) => {
    browserPool ??= createBrowserPool({ executablePath: '/usr/bin/chromium', poolSize: 2, contextMaxPages: 50, contextMaxAgeMs: 300_000, restartAfterPages: 500 })
    const config = loadConfig({
      FETCH_REWRITE: `https://spb.cian.ru=${redirector.origin}`,
      FETCH_STRATEGIES: 'browser',
      FETCH_RETRIES: '0',
      FETCH_CONNECT_TIMEOUT_MS: '200',
      FETCH_TIMEOUT_MS: String(timeoutMs),
    })
    return createFetcher(config, { resolveHost, retryBaseDelayMs: 5, browserPool })
  }

  it('a listing-site name that resolves to a forbidden address is refused before Chromium or Node connects', async () => {
    const fresh = createHostileResolver()
    const fetcher = browserFetcher(fresh)
    for (const url of dnsUrls()) {
      let error = await rejection(fetcher.fetchPage(url))
      // Rebinding hosts answer a public, unreachable address first; the next lookup is checked again and refused.
      if (url.includes('rebind') && error.code === 'FetchFailed') error = await rejection(fetcher.fetchPage(url))
      expect(error.code, url).toBe('UrlRejected')
      expect(error.message, url).toMatch(/resolves to a forbidden address/)
      tried.browserDns++
    }
    for (const entry of DNS_HOSTILE) expect(fresh.calls, entry.host).toContain(entry.host)
    expect(canary.connections).toBe(0)
  })

  it('a listing page that redirects to any hostile URL is refused at the redirect', async () => {
    const fetcher = browserFetcher()
    const targets = [...literalUrls(), ...dnsUrls()]
    const before = redirector.requests.length
    for (const [index, target] of targets.entries()) {
      const error = await rejection(fetcher.fetchPage(`https://spb.cian.ru/to/${index}`))
      expect(error.code, target).toMatch(/^(UrlRejected|FetchFailed)$/)
      // A rebinding host's first answer is public and unreachable here; the plain suite shows its second is refused.
      const refused = target.includes('rebind') ? /resolves to a forbidden address|Could not connect/ : /^Redirect refused|resolves to a forbidden address|malformed Location/
      expect(error.message, target).toMatch(refused)
      tried.browserRedirects++
    }
    // Each redirect was asked for (a navigation Chromium retries under load may ask twice) and none was followed.
    const asked = new Set(redirector.requests.slice(before).map((seen) => seen.path).filter((path) => path.startsWith('/to/')))
    expect([...asked].sort()).toEqual(targets.map((_, index) => `/to/${index}`).sort())
    expect(canary.connections).toBe(0)
  })

  it('a page that requests every hostile URL by tag, script, socket and WebRTC loads, and not one request leaves', async () => {
    const fetcher = browserFetcher(resolver, 60_000)
    const page = await fetcher.fetchPage('https://spb.cian.ru/hostile-requests', {
      // Settled once the page's script has run (it renames the page).
      judge: (candidate) => (candidate.body.includes('запросы отправлены') ? { blocked: false } : { blocked: true, reason: 'script pending' }),
    })
    expect(page.strategy).toBe('browser')
    expect(page.body).toContain('Квартира, 45 м²')
    // Only the page itself reached the mirror; every subrequest was refused in the browser.
    expect(redirector.hits('/hostile-requests')).toBe(1)
    tried.browserSubrequests += [...literalUrls(), ...dnsUrls()].length
    expect(canary.connections).toBe(0)
  })
})

describe('webhook delivery', () => {
  it('an enqueue with any literal hostile webhook_url answers 400 and stores nothing', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    for (const url of literalUrls()) {
      const { status, body } = await enqueue('echo', { webhook_url: url })
      expect(status, url).toBe(400)
      expect(body.details.reason, url).toMatch(/^(forbidden-address|host-not-allowed|credentials|malformed)$/)
      tried.webhookEnqueue++
      hostileUrls.add(url)
    }
    expect(await service.queue.monitoring.stats({ fresh: true })).toEqual(before)
    expect(canary.connections).toBe(0)
  })

  it('postWebhook refuses every name that resolves to a forbidden address, rebinding included', async () => {
    // A fresh resolver: rebinding hosts answer public on their first lookup in this test.
    const fresh = createHostileResolver()
    const fetcher = createFetcher(fetcherConfig(), { resolveHost: fresh, retryBaseDelayMs: 5 })
    for (const entry of DNS_HOSTILE) {
      const url = `http://${entry.host}:${canary.port}/hook`
      const error = await rejection(fetcher.postWebhook(url, '{"job_id":"x"}'))
      expect(error.code, url).toBe('UrlRejected')
      expect(error.details, url).toMatchObject({ reason: 'forbidden-address' })
      tried.webhookDns++
      hostileUrls.add(entry.host)
    }
    // Each rebinding host was looked up on the first attempt (public, unreachable) and again on the retry.
    const calls = fresh.calls
    for (const host of ['rebind.ssrf.cian.ru', 'rebind6.ssrf.cian.ru']) expect(calls.filter((h) => h === host).length, host).toBe(2)
    expect(canary.connections).toBe(0)
  })

  it('accepts the same names at enqueue (no DNS there): the send-time check is what stops them', async () => {
    for (const entry of DNS_HOSTILE.slice(0, 3)) {
      const { status, body } = await enqueue('echo', { webhook_url: `http://${entry.host}:${canary.port}/hook`, enqueue_in: 3600 })
      expect(status).toBe(202)
      await service.queue.cancel(body.job_id)
    }
  })

  it('never follows a receiver that redirects to a hostile URL', async () => {
    const fetcher = createFetcher(fetcherConfig({ webhookAllowlist: [`127.0.0.1:${receiver.port}`] }), { resolveHost: resolver, retryBaseDelayMs: 5 })
    const targets = [...literalUrls(), ...dnsUrls()]
    for (const index of targets.keys()) {
      const error = await rejection(fetcher.postWebhook(`http://127.0.0.1:${receiver.port}/hook/${index}`, '{}'))
      expect(error.code).toBe('FetchFailed')
      expect(error.details).toMatchObject({ status: 307, reason: 'redirect-not-followed' })
      tried.webhookRedirects++
    }
    expect(receiver.requests.length).toBe(targets.length)
    expect(canary.connections).toBe(0)
  })
})

describe('the canary', () => {
  it('saw nothing during the suite, and is reachable on loopback, so that zero means something', async () => {
    canaryAfterSuite = canary.connections
    expect(canaryAfterSuite).toBe(0)
    const response = await fetch(`http://127.0.0.1:${canary.port}/`)
    expect(await response.text()).toBe('canary reached')
    expect(canary.connections).toBe(1)
  })
})
