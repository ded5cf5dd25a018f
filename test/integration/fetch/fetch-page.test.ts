import type { ServerResponse } from 'node:http'
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { checkListingUrl, createFetcher, type FetchConfig, type ResolvedAddress } from '../../../src/fetch/index.ts'
import { createTestResolver, startServer, timed, type TestServer } from './test-servers.ts'

const PAGE = '<html><head><title>Квартира</title></head><body><h1>2-комн. квартира, 54 м²</h1></body></html>'
const CAP_BYTES = 256 * 1024

let canary: TestServer
let fixture: TestServer
const arrivals = new Map<string, () => void>()

/** Resolves when the fixture server has received a request for path: synchronisation without sleeps. */
function arrival(path: string): Promise<void> {
  return new Promise((resolve) => arrivals.set(path, resolve))
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers })
  res.end(body)
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location })
  res.end()
}

function encodeWindows1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((char) => {
      const code = char.codePointAt(0)!
      if (code < 0x80) return code
      if (code >= 0x410 && code <= 0x44f) return code - 0x410 + 0xc0
      if (char === 'ё') return 0xb8
      throw new Error(`no windows-1251 byte for ${char}`)
    }),
  )
}

beforeAll(async () => {
  canary = await startServer((_req, res) => send(res, 200, 'canary reached'))
  const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024))
  fixture = await startServer((req, res, seen) => {
    const path = new URL(seen.path, fixture.origin).pathname
    const hits = fixture.requests.filter((request) => request.path.split('?')[0] === path).length
    arrivals.get(path)?.()
    arrivals.delete(path)
    const hops = /^\/hops\/(\d+)$/.exec(path)
    if (hops) {
      const left = Number(hops[1])
      return left === 0 ? send(res, 200, PAGE) : redirect(res, `/hops/${left - 1}`)
    }
    switch (path) {
      case '/sale/flat/1/':
        return send(res, 200, PAGE)
      case '/redirect/canary':
        return redirect(res, `http://127.0.0.1:${canary.port}/`)
      case '/redirect/canary-by-name':
        return redirect(res, `http://evil.cian.ru:${canary.port}/`)
      case '/redirect/relative':
        return redirect(res, '/sale/flat/1/')
      case '/redirect/absolute-rewritten':
        return redirect(res, `${fixture.origin}/sale/flat/1/?via=absolute`)
      case '/redirect/original-site':
        return redirect(res, 'https://spb.cian.ru/sale/flat/1/?via=site')
      case '/redirect/not-a-listing':
        return redirect(res, 'https://evil.example.com/')
      case '/redirect/metadata':
        return redirect(res, 'http://169.254.169.254/latest/meta-data/')
      case '/redirect/file':
        return redirect(res, 'file:///etc/passwd')
      case '/headers':
        return send(res, 200, JSON.stringify(req.headers), { 'content-type': 'application/json' })
      case '/cp1251':
        return send(res, 200, encodeWindows1251('<h1>Продаётся квартира у метро</h1>'), {
          'content-type': 'text/html; charset=windows-1251',
        })
      case '/gzip':
        return send(res, 200, zlib.gzipSync(PAGE), { 'content-encoding': 'gzip' })
      case '/deflate':
        return send(res, 200, zlib.deflateSync(PAGE), { 'content-encoding': 'deflate' })
      case '/br':
        return send(res, 200, zlib.brotliCompressSync(PAGE), { 'content-encoding': 'br' })
      case '/corrupt-gzip':
        return send(res, 200, Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' })
      case '/bomb':
        return send(res, 200, bomb, { 'content-encoding': 'gzip' })
      case '/big': {
        res.writeHead(200, { 'content-type': 'text/html' })
        const chunk = Buffer.alloc(16 * 1024, 'a')
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump)
        }
        res.on('error', () => undefined)
        return pump()
      }
      case '/big-declared':
        res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) })
        return res.write('a')
      case '/hang':
        return
      case '/flaky-503':
        return hits <= 2 ? send(res, 503, 'busy') : send(res, 200, PAGE)
      case '/always-503':
        return send(res, 503, 'busy')
      case '/503-retry-later':
        return send(res, 503, 'busy', { 'retry-after': '5' })
      case '/reset-once':
        return hits === 1 ? req.socket.destroy() : send(res, 200, PAGE)
      case '/429-now':
        return hits === 1 ? send(res, 429, 'slow down', { 'retry-after': '0' }) : send(res, 200, PAGE)
      case '/429-hour':
        return send(res, 429, 'slow down', { 'retry-after': '3600' })
      case '/404':
        return send(res, 404, 'no such listing')
      case '/410':
        return send(res, 410, 'removed')
      case '/403':
        return send(res, 403, 'captcha')
      case '/400':
        return send(res, 400, 'bad')
      default:
        return send(res, 500, `unexpected path ${path}`)
    }
  })
})

afterAll(async () => {
  await Promise.all([canary?.close(), fixture?.close()])
})

function testConfig(overrides: Partial<FetchConfig> = {}): FetchConfig {
  return {
    listingHosts: [],
    fetchRewrite: new Map([['https://spb.cian.ru', fixture.origin]]),
    fetchTimeoutMs: 3000,
    fetchConnectTimeoutMs: 1000,
    fetchMaxBytes: CAP_BYTES,
    fetchRetries: 2,
    webhookAllowlist: [],
    ...overrides,
  }
}

function testFetcher(overrides: Partial<FetchConfig> = {}, resolveHost = createTestResolver()) {
  return createFetcher(testConfig(overrides), { resolveHost, retryBaseDelayMs: 5 })
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`)
  return error
}

const site = (path: string) => `https://spb.cian.ru${path}`

describe('fetchPage refuses hostile URLs before any connection', () => {
  const hostile = () => {
    const port = canary.port
    return [
      `http://127.0.0.1:${port}/`,
      `http://127.1:${port}/`,
      `http://10.0.0.1:${port}/`,
      `http://172.16.0.1:${port}/`,
      `http://192.168.0.1:${port}/`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://[::1]:${port}/`,
      `http://[fc00::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://2130706433:${port}/`,
      `http://0177.0.0.1:${port}/`,
      `http://0x7f000001:${port}/`,
      `http://0x7f.1:${port}/`,
      `http://0.0.0.0:${port}/`,
      `http://0:${port}/`,
      `http://localhost:${port}/`,
      `file:///etc/passwd`,
      `ftp://cian.ru/`,
      `data:text/html,<h1>hi</h1>`,
      `javascript:alert(1)`,
      `gopher://127.0.0.1:${port}/_GET`,
      `http://example.com:${port}/`,
      `http://evilcian.ru:${port}/`,
      `http://cian.ru.evil.com:${port}/`,
      `http://user:pass@spb.cian.ru/`,
      `http://spb.cian.ru@127.0.0.1:${port}/`,
      `http://127.0.0.1:${port}#@spb.cian.ru/`,
      `http://127.0.0.1:${port}\\@spb.cian.ru/`,
    ]
  }

  it('answers UrlRejected for every entry, from both checkListingUrl and fetchPage, and the canary sees nothing', async () => {
    const resolver = createTestResolver()
    const fetcher = testFetcher({}, resolver)
    const urls = hostile()
    let refused = 0
    for (const url of urls) {
      expect(() => checkListingUrl(url, testConfig()), url).toThrow(AppError)
      const error = await failure(fetcher.fetchPage(url))
      expect(error.code, url).toBe('UrlRejected')
      refused++
    }
    console.log(`fetchPage refused ${refused}/${urls.length} hostile URLs; canary requests: ${canary.requests.length}`)
    expect(refused).toBe(urls.length)
    expect(resolver.calls).toEqual([])
    expect(canary.requests).toHaveLength(0)
  })
})

describe('fetchPage checks the address it connects to', () => {
  const answers: ReadonlyArray<readonly [string, ResolvedAddress[]]> = [
    ['loopback', [{ address: '127.0.0.1', family: 4 }]],
    ['private', [{ address: '10.1.2.3', family: 4 }]],
    ['metadata', [{ address: '169.254.169.254', family: 4 }]],
    ['IPv6 loopback', [{ address: '::1', family: 6 }]],
    ['IPv4-mapped loopback', [{ address: '::ffff:127.0.0.1', family: 6 }]],
    ['NAT64 loopback', [{ address: '64:ff9b::7f00:1', family: 6 }]],
    ['6to4 private', [{ address: '2002:c0a8:101::1', family: 6 }]],
    [
      'public beside loopback',
      [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    ],
  ]

  it.each(answers)('refuses a listing host that resolves to %s', async (_name, addresses) => {
    const resolver = createTestResolver(() => addresses)
    const error = await failure(testFetcher({}, resolver).fetchPage(`http://evil.cian.ru:${canary.port}/sale/flat/1/`))
    expect(error.code).toBe('UrlRejected')
    expect(error.details).toMatchObject({ reason: 'forbidden-address' })
    expect(resolver.calls).toEqual(['evil.cian.ru'])
    expect(canary.requests).toHaveLength(0)
  })

  it('refuses a rebinding host that answers public first and loopback after', async () => {
    const resolver = createTestResolver((_host, call) =>
      call === 1 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }],
    )
    const fetcher = testFetcher({ fetchConnectTimeoutMs: 300, fetchRetries: 3 }, resolver)
    const error = await failure(fetcher.fetchPage(`http://rebind.cian.ru:${canary.port}/`))
    expect(error.code).toBe('UrlRejected')
    expect(resolver.calls.length).toBeGreaterThanOrEqual(2)
    expect(canary.requests).toHaveLength(0)
  })

  it('refuses a LISTING_HOSTS extra that resolves to loopback', async () => {
    const fetcher = testFetcher({ listingHosts: ['localtest.me'] })
    const error = await failure(fetcher.fetchPage(`http://localtest.me:${canary.port}/`))
    expect(error.details).toMatchObject({ reason: 'forbidden-address' })
    expect(canary.requests).toHaveLength(0)
  })
})

describe('fetchPage with FETCH_REWRITE', () => {
  it('fetches the page from the rewritten origin and reports the original site URL', async () => {
    const page = await testFetcher().fetchPage(site('/sale/flat/1/'))
    expect(page).toEqual({
      url: 'https://spb.cian.ru/sale/flat/1/',
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: PAGE,
      strategy: 'plain',
      attempts: [{ strategy: 'plain', proxy: null, outcome: 'ok', ms: expect.any(Number) }],
    })
  })

  it('sends Chrome-like browser headers and the original host', async () => {
    const page = await testFetcher().fetchPage(site('/headers'))
    const headers = JSON.parse(page.body) as Record<string, string>
    expect(headers['user-agent']).toMatch(/Chrome\/\d+/)
    expect(headers['accept']).toMatch(/^text\/html/)
    expect(headers['accept-language']).toMatch(/^ru-RU/)
    expect(headers['accept-encoding']).toBe('gzip, deflate, br')
    expect(headers['x-forwarded-host']).toBe('spb.cian.ru')
  })

  it('leaves unrewritten origins on the address guard', async () => {
    const error = await failure(testFetcher().fetchPage('https://www.cian.ru/sale/flat/1/'))
    expect(error.details).toMatchObject({ reason: 'forbidden-address', host: 'www.cian.ru' })
  })

  it.each([
    ['/redirect/relative', 'https://spb.cian.ru/sale/flat/1/'],
    ['/redirect/absolute-rewritten', 'https://spb.cian.ru/sale/flat/1/?via=absolute'],
    ['/redirect/original-site', 'https://spb.cian.ru/sale/flat/1/?via=site'],
  ])('follows %s back into the rewritten site', async (path, finalUrl) => {
    const page = await testFetcher().fetchPage(site(path))
    expect(page.url).toBe(finalUrl)
    expect(page.body).toBe(PAGE)
  })

  it.each([
    ['/redirect/canary', 'ip-literal'],
    ['/redirect/canary-by-name', 'forbidden-address'],
    ['/redirect/metadata', 'ip-literal'],
    ['/redirect/not-a-listing', 'host-not-allowed'],
    ['/redirect/file', 'scheme'],
  ])('refuses the redirect %s (%s) and the canary sees nothing', async (path, reason) => {
    const error = await failure(testFetcher().fetchPage(site(path)))
    expect(error.code).toBe('UrlRejected')
    expect(error.details).toMatchObject({ reason })
    expect(canary.requests).toHaveLength(0)
  })

  it('names the page that redirected when the redirect target fails the URL rules', async () => {
    const error = await failure(testFetcher().fetchPage(site('/redirect/canary')))
    expect(error.message).toMatch(/^Redirect refused/)
    expect(error.details).toMatchObject({ redirectedFrom: site('/redirect/canary') })
    expect(canary.requests).toHaveLength(0)
  })

  it('follows five redirects', async () => {
    const page = await testFetcher().fetchPage(site('/hops/5'))
    expect(page.url).toBe(site('/hops/0'))
  })

  it('fails on the sixth redirect without following it', async () => {
    const error = await failure(testFetcher().fetchPage(site('/hops/6')))
    expect(error.code).toBe('FetchFailed')
    expect(error.details).toMatchObject({ reason: 'too-many-redirects', retryable: false })
    expect(fixture.hits('/hops/0')).toBe(fixture.hits('/hops/5') - 1)
  })
})

describe('fetchPage body limits and decoding', () => {
  it.each(['/gzip', '/deflate', '/br'])('decompresses %s', async (path) => {
    expect((await testFetcher().fetchPage(site(path))).body).toBe(PAGE)
  })

  it('decodes a windows-1251 page', async () => {
    const page = await testFetcher().fetchPage(site('/cp1251'))
    expect(page.body).toBe('<h1>Продаётся квартира у метро</h1>')
  })

  it('fails a streamed body past the cap', async () => {
    const error = await failure(testFetcher().fetchPage(site('/big')))
    expect(error.code).toBe('FetchFailed')
    expect(error.details).toMatchObject({ reason: 'too-large', retryable: false, limitBytes: CAP_BYTES })
  })

  it('fails at once on a Content-Length past the cap', async () => {
    const { ms, error } = await timed(testFetcher().fetchPage(site('/big-declared')))
    expect((error as AppError).details).toMatchObject({ reason: 'too-large' })
    expect(ms).toBeLessThan(1000)
  })

  it('stops a gzip bomb at the decompressed cap', async () => {
    const { ms, error } = await timed(testFetcher().fetchPage(site('/bomb')))
    expect((error as AppError).message).toMatch(/decompressed body exceeds/)
    expect((error as AppError).details).toMatchObject({ reason: 'too-large', retryable: false })
    expect(ms).toBeLessThan(2000)
  })

  it('fails a corrupt compressed body without retrying', async () => {
    const error = await failure(testFetcher().fetchPage(site('/corrupt-gzip')))
    expect(error.details).toMatchObject({ reason: 'encoding', retryable: false })
    expect(fixture.hits('/corrupt-gzip')).toBe(1)
  })
})

describe('fetchPage timeouts and cancellation', () => {
  it('fails a server that never answers in about fetchTimeoutMs', async () => {
    const { ms, error } = await timed(testFetcher({ fetchTimeoutMs: 300, fetchRetries: 0 }).fetchPage(site('/hang')))
    expect((error as AppError).details).toMatchObject({ reason: 'timeout', retryable: true })
    expect(ms).toBeGreaterThanOrEqual(290)
    expect(ms).toBeLessThan(1000)
  })

  it('retries a timeout', async () => {
    const before = fixture.hits('/hang')
    await failure(testFetcher({ fetchTimeoutMs: 200, fetchRetries: 1 }).fetchPage(site('/hang')))
    expect(fixture.hits('/hang') - before).toBe(2)
  })

  it('aborts at once on the external signal, with its reason, and never retries', async () => {
    const before = fixture.hits('/hang')
    const controller = new AbortController()
    const reason = new AppError('JobCanceled', 'canceled by user')
    const arrived = arrival('/hang')
    const fetching = testFetcher({ fetchTimeoutMs: 10_000 }).fetchPage(site('/hang'), { signal: controller.signal })
    await arrived
    const abortedAt = performance.now()
    controller.abort(reason)
    const error = await fetching.catch((e: unknown) => e)
    expect(error).toBe(reason)
    expect(performance.now() - abortedAt).toBeLessThan(100)
    expect(fixture.hits('/hang') - before).toBe(1)
  })

  it('aborts during a Retry-After wait without another request', async () => {
    const controller = new AbortController()
    const arrived = arrival('/503-retry-later')
    const fetching = testFetcher().fetchPage(site('/503-retry-later'), { signal: controller.signal })
    await arrived
    controller.abort()
    const { ms, error } = await timed(fetching)
    expect((error as Error).name).toBe('AbortError')
    expect(ms).toBeLessThan(1000)
    expect(fixture.hits('/503-retry-later')).toBe(1)
  })

  it('refuses to start with an already aborted signal', async () => {
    const before = fixture.requests.length
    const error = await testFetcher()
      .fetchPage(site('/sale/flat/1/'), { signal: AbortSignal.abort(new AppError('JobCanceled', 'gone')) })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'JobCanceled' })
    expect(fixture.requests.length).toBe(before)
  })
})

describe('fetchPage retries', () => {
  it('succeeds after two 503s with three requests', async () => {
    const page = await testFetcher().fetchPage(site('/flaky-503'))
    expect(page.body).toBe(PAGE)
    expect(fixture.hits('/flaky-503')).toBe(3)
  })

  it('gives up after fetchRetries with a retryable FetchFailed', async () => {
    const error = await failure(testFetcher().fetchPage(site('/always-503')))
    expect(error.details).toMatchObject({ status: 503, retryable: true })
    expect(fixture.hits('/always-503')).toBe(3)
  })

  it('retries a dropped connection', async () => {
    expect((await testFetcher().fetchPage(site('/reset-once'))).body).toBe(PAGE)
    expect(fixture.hits('/reset-once')).toBe(2)
  })

  it('retries a 429 with Retry-After: 0', async () => {
    expect((await testFetcher().fetchPage(site('/429-now'))).body).toBe(PAGE)
    expect(fixture.hits('/429-now')).toBe(2)
  })

  it('leaves a 429 asking for an hour to the job retry', async () => {
    const error = await failure(testFetcher().fetchPage(site('/429-hour')))
    expect(error.details).toMatchObject({ status: 429, retryable: true, retryAfterMs: 3_600_000 })
    expect(fixture.hits('/429-hour')).toBe(1)
  })

  it.each([
    ['/404', 'ListingNotFound', 404],
    ['/410', 'ListingNotFound', 410],
    ['/403', 'SiteBlocked', 403],
    ['/400', 'FetchFailed', 400],
  ])('answers %s with %s after one request', async (path, code, status) => {
    const error = await failure(testFetcher().fetchPage(site(path)))
    expect(error.code).toBe(code)
    expect(error.details).toMatchObject({ status, retryable: false })
    expect(fixture.hits(path)).toBe(1)
  })
})

describe('canary', () => {
  it('has received no request from any test in this file', () => {
    expect(canary.requests).toHaveLength(0)
  })
})
