import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>

beforeAll(async () => {
  // The saved Moscow rent search page stands in for cian's search: every cat.php query gets it.
  site = await startFixtureServer({ '/cat.php': 'cian-serp-rent-moscow-2023.html' })
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    // About search pages only: the analogs' own pages (child parse jobs) are tested in valuation-product.test.ts.
    env: { FETCH_REWRITE: `https://www.cian.ru=${site.origin}`, FETCH_RETRIES: '0', ANALOG_PAGES_MAX: '0' },
  })
})
afterAll(async () => {
  await service.close()
  await site.close()
})

describe('find-similar against live search pages', () => {
  it('fetches cian search results through FETCH_REWRITE, keeps sane analogs and grows the store', async () => {
    const target = { deal_type: 'rent', property_type: 'flat', region: 'msk', city: 'Москва', price: 80000, total_area: 45, rooms: 2 }
    const response = await fetch(`${service.baseUrl}/api/tasks/find-similar`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_id: 'live-1', target_property: target, limit: 10, search_strategy: 'citywide', source: 'live' }),
    })
    expect(response.status).toBe(202)
    const status = await waitForStatus(service.baseUrl, (await response.json()).job_id, ['finished', 'failed'])
    expect(status.status).toBe('finished')
    const search = site.requests.find((path) => path.startsWith('/cat.php'))
    expect(search).toBeDefined()
    const query = new URL(search!, 'http://x').searchParams
    expect(query.get('deal_type')).toBe('rent')
    expect(query.get('region')).toBe('1')

    const { comparables, count } = status.result
    expect(count).toBeGreaterThanOrEqual(5)
    expect(count).toBeLessThanOrEqual(10)
    for (const analog of comparables) {
      expect(analog.url).toMatch(/^https:\/\/www\.cian\.ru\/rent\/flat\/\d+\/$/)
      // The original's guards: price ratio ≤ 3, area ratio ≤ 1.5, price per m² within 30 %.
      expect(Math.max(analog.price / 80000, 80000 / analog.price)).toBeLessThanOrEqual(3)
      expect(Math.max(analog.total_area / 45, 45 / analog.total_area)).toBeLessThanOrEqual(1.5)
      expect(Math.abs(analog.price / analog.total_area / (80000 / 45) - 1)).toBeLessThanOrEqual(0.3)
      expect(analog.reasons.length).toBeGreaterThan(0)
    }
    const urls = comparables.map((analog: { url: string }) => analog.url)
    expect(urls).not.toContain('https://www.cian.ru/rent/flat/288320409/') // 450 000 ₽ a month: absurd for this target
    expect(new Set(urls).size).toBe(urls.length)
    const similarities = comparables.map((analog: { similarity: number }) => analog.similarity)
    expect([...similarities].sort((a, b) => b - a)).toEqual(similarities)

    const stored = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.listings WHERE region = 'msk' AND deal_type = 'rent'`.execute(service.db.db)
    expect(stored.rows[0].n).toBeGreaterThanOrEqual(28)
    const session = await (await fetch(`${service.baseUrl}/api/sessions/live-1`)).json()
    expect(session.comparables).toHaveLength(count)
  })

  it('answers from the store alone once the cards are stored, with no request to the site', async () => {
    const before = site.requests.length
    const response = await fetch(`${service.baseUrl}/api/tasks/find-similar`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        session_id: 'live-2',
        target_property: { deal_type: 'rent', property_type: 'flat', region: 'msk', city: 'Москва', price: 60000, total_area: 40, rooms: 1 },
        limit: 5,
        search_strategy: 'citywide',
        source: 'store',
      }),
    })
    const status = await waitForStatus(service.baseUrl, (await response.json()).job_id, ['finished', 'failed'])
    expect(status.status).toBe('finished')
    expect(status.result.count).toBeGreaterThan(0)
    expect(site.requests.length).toBe(before)
  })
})
