import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../src/config.ts'
import { createProxyPool, redactProxyUrl } from '../../../src/fetch/proxy-pool.ts'

const URLS = ['http://u1:p1@proxy-a.example:3128', 'socks5://u2:p2@proxy-b.example:1080', 'https://proxy-c.example:8443']

function poolAt(clock: { ms: number }) {
  return createProxyPool(URLS, { cooldownMs: 60_000, cooldownMaxMs: 300_000, now: () => clock.ms })
}

describe('proxy pool', () => {
  it('rotates through the proxies per request', () => {
    const pool = poolAt({ ms: 0 })
    expect([1, 2, 3, 4].map(() => pool.next()!.id)).toEqual([
      'http://proxy-a.example:3128',
      'socks5://proxy-b.example:1080',
      'https://proxy-c.example:8443',
      'http://proxy-a.example:3128',
    ])
  })

  it('cools a blocked proxy down, doubling on each block in a row, capped, and takes it back afterwards', () => {
    const clock = { ms: 1_000_000 }
    const pool = poolAt(clock)
    const a = pool.next()!
    pool.blocked(a)
    expect(Date.parse(pool.health()[0]!.coolingUntil!)).toBe(clock.ms + 60_000)
    expect([1, 2, 3].map(() => pool.next()!.id)).not.toContain(a.id)
    clock.ms += 60_000
    pool.blocked(a)
    expect(Date.parse(pool.health()[0]!.coolingUntil!)).toBe(clock.ms + 120_000)
    clock.ms += 120_000
    pool.blocked(a)
    pool.blocked(a)
    pool.blocked(a)
    expect(Date.parse(pool.health()[0]!.coolingUntil!)).toBe(clock.ms + 300_000)
    clock.ms += 300_000
    expect(pool.health()[0]!.coolingUntil).toBeNull()
    pool.succeeded(a, 120)
    pool.blocked(a)
    // A success in between starts the doubling over.
    expect(Date.parse(pool.health()[0]!.coolingUntil!)).toBe(clock.ms + 60_000)
    expect(pool.health()[0]).toMatchObject({ successes: 1, captchas: 6, latencyMs: 120 })
  })

  it('takes a proxy out after three network failures in a row', () => {
    const clock = { ms: 0 }
    const pool = poolAt(clock)
    const b = createProxyPool(URLS, { cooldownMs: 60_000, cooldownMaxMs: 300_000, now: () => clock.ms })
    const proxy = b.next()!
    b.failed(proxy)
    b.failed(proxy)
    expect(b.health()[0]!.coolingUntil).toBeNull()
    b.failed(proxy)
    expect(b.health()[0]).toMatchObject({ failures: 3, coolingUntil: new Date(60_000).toISOString() })
    expect(pool.health()[0]!.failures).toBe(0)
  })

  it('when every proxy cools down, uses the one that recovers first rather than none', () => {
    const clock = { ms: 0 }
    const pool = poolAt(clock)
    const [a, b, c] = [pool.next()!, pool.next()!, pool.next()!]
    pool.blocked(a)
    pool.blocked(a)
    pool.blocked(b)
    pool.blocked(c)
    clock.ms += 1
    pool.blocked(c)
    expect(pool.hasUsable(new Set())).toBe(false)
    expect(pool.next()!.id).toBe(b.id)
  })

  it('shows proxies without credentials, and keeps two logins on one proxy apart', () => {
    expect(redactProxyUrl(new URL('http://user:secret@10.0.0.5:3128'))).toBe('http://10.0.0.5:3128')
    const pool = createProxyPool(['http://a:1@p.example:3128', 'http://b:2@p.example:3128'], { cooldownMs: 1, cooldownMaxMs: 1 })
    expect(pool.health().map((h) => h.proxy)).toEqual(['http://p.example:3128', 'http://p.example:3128#2'])
    expect(JSON.stringify(pool.health())).not.toMatch(/a:1|b:2/)
  })
})

describe('FETCH_STRATEGIES and FETCH_PROXIES', () => {
  it('reads a default ladder and per-site ladders', () => {
    const config = loadConfig({ FETCH_STRATEGIES: 'plain,browser; avito.ru=browser ; *.domclick.ru=plain' })
    expect(config.fetchStrategies).toEqual({
      default: ['plain', 'browser'],
      sites: [
        { domain: 'avito.ru', strategies: ['browser'] },
        { domain: 'domclick.ru', strategies: ['plain'] },
      ],
    })
    expect(loadConfig({}).fetchStrategies).toEqual({ default: undefined, sites: [] })
  })

  it('refuses an unknown strategy and a malformed proxy, naming the entry but never its credentials', () => {
    expect(() => loadConfig({ FETCH_STRATEGIES: 'plain,curl' })).toThrow(ConfigError)
    let message = ''
    try {
      loadConfig({ FETCH_PROXIES: 'http://u:hunter2@p.example:3128,ftp://u:hunter2@q.example:21' })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/FETCH_PROXIES: entry 2/)
    expect(message).not.toContain('hunter2')
  })
})
