import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { createBrowserPool, createFetcher, type BrowserPool } from '../../../src/fetch/index.ts'
import { pino } from 'pino'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { pageJudge } from '../../../src/tasks/page-judge.ts'
import type { ParseOutcome } from '../../../src/tasks/parse/property.ts'
import { readFixture } from '../../helpers/fixture-server.ts'
import { startConnectProxy, startSocksProxy, startTinyproxy, type TestProxy } from '../../helpers/proxies.ts'
import { startServer, type TestServer } from './test-servers.ts'

/**
 * FETCH_PROXIES through real proxies: Debian's tinyproxy, a CONNECT proxy per exit address, a SOCKS5 proxy.
 * The site serves its captcha to one exit address (127.0.0.2), the listing to the others.
 */

const LISTING = '/sale/flat/315831388/'
const SECRET = 's3cr3t-pa55'
let site: TestServer
let tinyproxy: TestProxy & { log(): string }
let blockedExit: TestProxy
let goodExit: TestProxy
let socks: TestProxy
let pool: BrowserPool
const logLines: string[] = []

const judge = () => pageJudge<ParseOutcome>((page) => parsePage(page.body, page.url)).options

function fetcherWith(proxies: string[], strategies = 'plain', extra: Record<string, string> = {}) {
  const config = loadConfig({
    FETCH_REWRITE: `https://spb.cian.ru=${site.origin}`,
    FETCH_PROXIES: proxies.join(','),
    FETCH_STRATEGIES: strategies,
    FETCH_RETRIES: '0',
    PROXY_COOLDOWN_SECONDS: '60',
    ...extra,
  })
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) })
  return createFetcher(config, { browserPool: pool, log })
}

beforeAll(async () => {
  site = await startServer((req, res, seen) => {
    const path = new URL(seen.path, 'http://site').pathname
    if (path !== LISTING) return void res.writeHead(404).end()
    // The exit address decides, as it does for a real site's IP reputation.
    const fixture = req.socket.remoteAddress?.endsWith('127.0.0.2') ? 'cian-captcha-2024.html' : 'cian-offer-315831388.html'
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(readFixture(fixture))
  })
  tinyproxy = await startTinyproxy({ user: 'housler', password: SECRET })
  blockedExit = await startConnectProxy({ user: 'exit2', password: SECRET, localAddress: '127.0.0.2' })
  goodExit = await startConnectProxy({ user: 'exit3', password: SECRET, localAddress: '127.0.0.3' })
  socks = await startSocksProxy({ user: 'sox', password: SECRET })
  pool = createBrowserPool({ executablePath: '/usr/bin/chromium', poolSize: 1, contextMaxPages: 20, contextMaxAgeMs: 300_000, restartAfterPages: 200 })
})
afterAll(async () => {
  await pool?.close()
  await Promise.all([tinyproxy?.close(), blockedExit?.close(), goodExit?.close(), socks?.close()])
  await site?.close()
})

function noSecret(value: unknown) {
  expect(JSON.stringify(value)).not.toContain(SECRET)
}

describe('the proxy pool', { timeout: 120_000 }, () => {
  it('fetches through tinyproxy with Basic credentials; the attempt names the proxy without them', async () => {
    const fetcher = fetcherWith([tinyproxy.url])
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(page.attempts).toEqual([expect.objectContaining({ strategy: 'plain', proxy: `http://127.0.0.1:${tinyproxy.port}`, outcome: 'ok' })])
    expect(tinyproxy.log()).toMatch(/CONNECT/)
    const [health] = fetcher.proxyHealth()
    expect(health).toMatchObject({ proxy: `http://127.0.0.1:${tinyproxy.port}`, successes: 1, failures: 0, captchas: 0, coolingUntil: null })
    expect(health!.latencyMs).toBeGreaterThanOrEqual(0)
    noSecret(page.attempts)
    noSecret(fetcher.proxyHealth())
  })

  it('fetches through a SOCKS5 proxy with username and password', async () => {
    const fetcher = fetcherWith([socks.url])
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(page.attempts[0]).toMatchObject({ proxy: `socks5://127.0.0.1:${socks.port}`, outcome: 'ok' })
    expect(socks.tunnels.length).toBe(1)
  })

  it('a proxy the site blocks is cooled down and the next one used, within the same fetch and for the next', async () => {
    const fetcher = fetcherWith([blockedExit.url, goodExit.url])
    const blockedId = `http://127.0.0.1:${blockedExit.port}`
    const goodId = `http://127.0.0.1:${goodExit.port}`
    const first = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(first.attempts.map(({ proxy, outcome }) => [proxy, outcome])).toEqual([
      [blockedId, 'blocked'],
      [goodId, 'ok'],
    ])
    const health = Object.fromEntries(fetcher.proxyHealth().map((entry) => [entry.proxy, entry]))
    expect(health[blockedId]).toMatchObject({ captchas: 1, successes: 0 })
    expect(Date.parse(health[blockedId]!.coolingUntil!)).toBeGreaterThan(Date.now() + 30_000)
    expect(health[goodId]).toMatchObject({ captchas: 0, successes: 1, coolingUntil: null })

    const tunnelsBefore = blockedExit.tunnels.length
    const second = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(second.attempts).toEqual([expect.objectContaining({ proxy: goodId, outcome: 'ok' })])
    expect(blockedExit.tunnels.length).toBe(tunnelsBefore)
    expect(logLines.join('\n')).toContain('proxy blocked; cooling it down')
    noSecret(logLines)
  })

  it('a proxy that refuses the credentials is a failed attempt, and the next proxy serves the page', async () => {
    const wrong = tinyproxy.url.replace(SECRET, 'wrong-password')
    const fetcher = fetcherWith([wrong, goodExit.url])
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(page.attempts.map(({ outcome }) => outcome)).toEqual(['failed', 'ok'])
    expect(page.attempts[0]!.reason).toMatch(/refused the tunnel \(407\)|credentials/)
    noSecret(page.attempts)
    noSecret('wrong-password')
  })

  it('the browser rung goes through the proxy too: Node answers its requests through the tunnel', async () => {
    const fetcher = fetcherWith([goodExit.url], 'browser')
    const before = goodExit.tunnels.length
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge())
    expect(page.attempts).toEqual([expect.objectContaining({ strategy: 'browser', proxy: `http://127.0.0.1:${goodExit.port}`, outcome: 'ok' })])
    expect(goodExit.tunnels.length).toBeGreaterThan(before)
  })
})
