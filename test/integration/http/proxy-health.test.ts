import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { readFixture } from '../../helpers/fixture-server.ts'
import { until } from '../../helpers/processes.ts'
import { startConnectProxy, type TestProxy } from '../../helpers/proxies.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { startServer, type TestServer } from '../fetch/test-servers.ts'

/** Proxy health as operators see it: /metrics, housler.proxy_health and the dashboard — never the credentials. */

const LISTING = '/sale/flat/315831388/'
const SECRET = 'pr0xy-pa55w0rd'
let site: TestServer
let blocked: TestProxy
let good: TestProxy
let service: TestService
let blockedId: string
let goodId: string

beforeAll(async () => {
  site = await startServer((req, res, seen) => {
    if (new URL(seen.path, 'http://site').pathname !== LISTING) return void res.writeHead(404).end()
    const fixture = req.socket.remoteAddress?.endsWith('127.0.0.2') ? 'cian-captcha-2024.html' : 'cian-offer-315831388.html'
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(readFixture(fixture))
  })
  blocked = await startConnectProxy({ user: 'ops', password: SECRET, localAddress: '127.0.0.2' })
  good = await startConnectProxy({ user: 'ops', password: SECRET, localAddress: '127.0.0.3' })
  blockedId = `http://127.0.0.1:${blocked.port}`
  goodId = `http://127.0.0.1:${good.port}`
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    env: {
      FETCH_REWRITE: `https://spb.cian.ru=${site.origin}`,
      FETCH_PROXIES: `${blocked.url},${good.url}`,
      FETCH_STRATEGIES: 'plain',
      FETCH_RETRIES: '0',
      WORKER_HEARTBEAT_SECONDS: '1',
    },
  })
  const response = await fetch(`${service.baseUrl}/api/tasks/parse`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `https://spb.cian.ru${LISTING}`, session_id: 'proxies' }),
  })
  const status = await waitForStatus(service.baseUrl, (await response.json()).job_id, ['finished', 'failed'])
  expect(status.status, status.error).toBe('finished')
  expect(status.result.attempts.map((a: { proxy: string; outcome: string }) => [a.proxy, a.outcome])).toEqual([
    [blockedId, 'blocked'],
    [goodId, 'ok'],
  ])
  expect(JSON.stringify(status)).not.toContain(SECRET)
})
afterAll(async () => {
  await service?.close()
  await Promise.all([blocked?.close(), good?.close(), site?.close()])
})

describe('proxy health for operators', () => {
  it('/metrics counts each proxy by outcome, shows latency and the cool-down, labelled without credentials', async () => {
    const text = await (await fetch(`${service.baseUrl}/metrics`)).text()
    expect(text).toContain(`housler_proxy_attempts_total{proxy="${blockedId}",outcome="captcha"} 1`)
    expect(text).toContain(`housler_proxy_attempts_total{proxy="${blockedId}",outcome="success"} 0`)
    expect(text).toContain(`housler_proxy_attempts_total{proxy="${goodId}",outcome="success"} 1`)
    expect(text).toMatch(new RegExp(`housler_proxy_latency_seconds\\{proxy="${goodId}"\\} [0-9.]+`))
    const cooldown = Number(new RegExp(`housler_proxy_cooldown_seconds\\{proxy="${blockedId}"\\} ([0-9.]+)`).exec(text)?.[1])
    expect(cooldown).toBeGreaterThan(0)
    expect(text).toContain(`housler_proxy_cooldown_seconds{proxy="${goodId}"} 0`)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain('ops:')
  })

  it('housler.proxy_health sums the live workers\' reports', async () => {
    const rows = await until('a heartbeat with proxy health', async () => {
      const result = await sql<Record<string, unknown>>`SELECT * FROM housler.proxy_health ORDER BY proxy`.execute(service.db.db)
      const byProxy = Object.fromEntries(result.rows.map((row) => [row.proxy, row]))
      return Number(byProxy[goodId]?.successes) === 1 ? byProxy : undefined
    })
    const counts = (row: Record<string, unknown> | undefined) =>
      Object.fromEntries(['workers', 'successes', 'failures', 'captchas', 'workers_cooling'].map((key) => [key, Number(row?.[key])]))
    expect(counts(rows[blockedId])).toEqual({ workers: 1, successes: 0, failures: 0, captchas: 1, workers_cooling: 1 })
    expect(rows[blockedId]!.cooling_until).toBeInstanceOf(Date)
    expect(counts(rows[goodId])).toEqual({ workers: 1, successes: 1, failures: 0, captchas: 0, workers_cooling: 0 })
    expect(rows[goodId]!.cooling_until).toBeNull()
    expect(Number(rows[goodId]!.latency_ms)).toBeGreaterThanOrEqual(0)
    expect(JSON.stringify(rows)).not.toContain(SECRET)
  })

  it('the dashboard shows each proxy with its counts and cool-down, and no credentials', async () => {
    const page = await until('the dashboard proxies table', async () => {
      const body = await (await fetch(`${service.baseUrl}/dashboard`)).text()
      return body.includes(`data-proxy="${goodId}"`) ? body : undefined
    })
    const row = (id: string) => new RegExp(`<tr data-proxy="${id}">([\\s\\S]*?)</tr>`).exec(page)?.[1] ?? ''
    expect(row(blockedId)).toMatch(/until \d{4}-/)
    expect(row(goodId)).toMatch(/<td class="idle">no<\/td>/)
    expect(row(goodId)).toMatch(/ ms<\/td>/)
    expect(page).not.toContain(SECRET)
    const overview = await (await fetch(`${service.baseUrl}/dashboard/api/overview`)).text()
    expect(overview).toContain(goodId)
    expect(overview).not.toContain(SECRET)
  })
})
