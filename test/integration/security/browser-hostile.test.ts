import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { AppError } from '../../../src/errors.ts'
import { createBrowserPool, createFetcher, type BrowserPool, type Fetcher } from '../../../src/fetch/index.ts'
import { startServer, type TestServer } from '../fetch/test-servers.ts'

/**
 * Hostile listing pages against the browser rung: each must end within its limit (time, requests, bytes) with a
 * clear error or a bounded page, and leave the pool usable. A canary on loopback counts connections: zero.
 */

const MAX_REQUESTS = 40
const TIMEOUT_MS = 3000
let site: TestServer
let canary: { port: number; connections: number; close(): Promise<void> }
let pool: BrowserPool
let fetcher: Fetcher
const hanging = new Set<http.ServerResponse>()

const html = (body: string, head = '') => `<!doctype html><html><head><meta charset="utf-8"><title>Квартира</title>${head}</head><body>${body}</body></html>`

beforeAll(async () => {
  const sockets = new Set<Socket>()
  const server = http.createServer((_req, res) => res.end('canary'))
  server.on('connection', (socket) => {
    canary.connections++
    sockets.add(socket)
  })
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, resolve))
  canary = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    }),
  }
  site = await startServer((_req, res, seen) => {
    const path = new URL(seen.path, 'http://site').pathname
    const send = (body: string) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body)
    switch (path) {
      case '/never-ends':
        // Headers and the start of a document, then nothing, ever.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        res.write('<!doctype html><html><head><title>Квартира</title></head><body><p>Загрузка')
        hanging.add(res)
        return
      case '/script-never-ends':
        return send(html('<p>Квартира</p><script src="/slow.js"></script><p>после скрипта</p>'))
      case '/slow.js':
        res.writeHead(200, { 'content-type': 'application/javascript' })
        res.write('// ')
        hanging.add(res)
        return
      case '/busy-loop':
        return send(html('<p>Квартира</p><script>setTimeout(function () { for (;;) {} }, 0)</script>'))
      case '/goes-private':
        return send(html(`<p>Подождите…</p><script>location.href = 'http://127.0.0.1:${canary.port}/'</script>`))
      case '/redirects-private':
        return void res.writeHead(302, { location: `http://127.0.0.1:${canary.port}/` }).end()
      case '/thousand-requests':
        return send(
          html(`<p>Квартира</p><script>
            for (let i = 0; i < 1000; i++) fetch('/api/item?i=' + i).catch(function () {})
            setTimeout(function () { document.title = 'Квартира: готово' }, 300)
          </script>`),
        )
      case '/api/item':
        return send('{}')
      case '/huge':
        return send(html(`<p>${'Квартира '.repeat(40_000)}</p>`))
      default:
        return void res.writeHead(404).end()
    }
  })
  pool = createBrowserPool({ executablePath: '/usr/bin/chromium', poolSize: 1, contextMaxPages: 50, contextMaxAgeMs: 300_000, restartAfterPages: 500 })
  const config = loadConfig({
    FETCH_REWRITE: `https://www.cian.ru=${site.origin}`,
    FETCH_STRATEGIES: 'browser',
    FETCH_RETRIES: '0',
    FETCH_TIMEOUT_MS: String(TIMEOUT_MS),
    FETCH_MAX_BYTES: String(200_000),
    BROWSER_MAX_REQUESTS: String(MAX_REQUESTS),
  })
  fetcher = createFetcher(config, { browserPool: pool })
})

afterAll(async () => {
  for (const res of hanging) res.destroy()
  await pool?.close()
  await site?.close()
  await canary?.close()
})

async function failure(path: string, judge?: Parameters<Fetcher['fetchPage']>[1]): Promise<AppError> {
  const error = await fetcher.fetchPage(`https://www.cian.ru${path}`, judge).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`)
  return error
}

// Chromium on a busy two-core machine takes seconds per page: these tests get minutes, not the default 30 s.
describe('hostile pages in the browser rung', { timeout: 180_000 }, () => {
  it('a document that never finishes loading ends at FETCH_TIMEOUT_MS with a timeout', async () => {
    const error = await failure('/never-ends')
    expect(error.code).toBe('FetchFailed')
    expect(error.details).toMatchObject({ reason: 'timeout' })
  })

  it('a script that never finishes loading ends at the same limit', async () => {
    const error = await failure('/script-never-ends')
    expect(error.code).toBe('FetchFailed')
    expect(error.message).toMatch(/timed out|within 3000 ms/i)
  })

  it('a page stuck in a script loop ends at the limit, and the pool serves the next page', async () => {
    // The judge waits for text the page never shows, so the rung keeps reading a renderer that is busy forever.
    const error = await failure('/busy-loop', { judge: (page) => ({ blocked: !page.body.includes('никогда'), reason: 'pending' }) })
    expect(error.code).toMatch(/^(FetchFailed|SiteBlocked)$/)
    const page = await fetcher.fetchPage('https://www.cian.ru/api/item')
    expect(page.body).toContain('{}')
  })

  it('a page whose script navigates to a private address is refused there', async () => {
    const error = await failure('/goes-private', { judge: (page) => (page.body.includes('Подождите') ? { blocked: true, reason: 'challenge' } : { blocked: false }) })
    expect(error.code).toBe('UrlRejected')
    expect(error.message).toMatch(/^Navigation refused/)
    expect(canary.connections).toBe(0)
  })

  it('a page that redirects to a private address is refused at the redirect', async () => {
    const error = await failure('/redirects-private')
    expect(error.code).toBe('UrlRejected')
    expect(error.message).toMatch(/^Redirect refused/)
    expect(canary.connections).toBe(0)
  })

  it(`a page that opens 1,000 subrequests: ${MAX_REQUESTS} at most reach the site, and the fetch ends within its budget`, async () => {
    const before = site.requests.length
    const outcome = await fetcher
      .fetchPage('https://www.cian.ru/thousand-requests', {
        judge: (candidate) => (candidate.body.includes('готово') ? { blocked: false } : { blocked: true, reason: 'pending' }),
      })
      .then(
        (page) => ({ page, error: undefined }),
        (error: unknown) => ({ page: undefined, error }),
      )
    // Refusing 960 requests one by one takes Chromium a while: the page either settles or meets the time budget.
    if (outcome.page) expect(outcome.page.body).toContain('Квартира: готово')
    else expect((outcome.error as AppError).details).toMatchObject({ reason: 'timeout' })
    const served = site.requests.length - before
    expect(served).toBeGreaterThan(1)
    expect(served).toBeLessThanOrEqual(MAX_REQUESTS)
    // And the pool is still good for the next page.
    expect((await fetcher.fetchPage('https://www.cian.ru/api/item')).body).toContain('{}')
  })

  it('a page larger than FETCH_MAX_BYTES is refused as too large', async () => {
    const error = await failure('/huge')
    expect(error.code).toBe('FetchFailed')
    expect(error.details).toMatchObject({ reason: 'too-large' })
  })

  it('the canary saw nothing', () => {
    expect(canary.connections).toBe(0)
  })
})
