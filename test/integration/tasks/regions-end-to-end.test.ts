import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { createStores } from '../../../src/store/index.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { BUILT_CITIES, builtRentals, cianRentalPage, rentalUrl, TYUMEN, type BuiltCity } from '../../helpers/built-pages.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const CITIES: readonly BuiltCity[] = [TYUMEN, ...BUILT_CITIES]

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>

beforeAll(async () => {
  // Every cian search gets the saved Moscow rent search page: a search in the wrong region would keep its cards.
  site = await startFixtureServer({ '/cat.php': 'cian-serp-rent-moscow-2023.html' })
  for (const city of CITIES) site.setRoute(new URL(rentalUrl(city)).pathname, cianRentalPage(city))
  const rewrite = [...CITIES.map((c) => `https://${c.subdomain}.cian.ru=${site.origin}`), `https://www.cian.ru=${site.origin}`].join(',')
  service = await startTestService({ tasks: TASKS, deps: createTaskServices, domain: true, env: { FETCH_REWRITE: rewrite, FETCH_RETRIES: '0', RATE_LIMIT_PER_MINUTE: '0' } })
  await createStores(service.db.db).listings.upsert(CITIES.flatMap((city) => builtRentals(city)))
})
afterAll(async () => {
  await service?.close()
  await site?.close()
})

describe('a rental in every region of the table reaches a report', () => {
  for (const city of CITIES) {
    it(`${city.name}: parsed region, cian searched in city ${city.cianId}, analogs of that city only, a rental report`, async () => {
      const searchesBefore = site.requests.filter((r) => r.startsWith('/cat.php')).length
      const response = await fetch(`${service.baseUrl}/api/tasks/pipeline`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: rentalUrl(city), session_id: `region-${city.code}`, search_strategy: 'citywide', limit: 10 }),
      })
      expect(response.status).toBe(202)
      const { jobs } = await response.json()
      const report = await waitForStatus(service.baseUrl, jobs.report.job_id, ['finished', 'failed', 'canceled'], 90_000)
      expect(report.status, JSON.stringify(report.error)).toBe('finished')

      const parse = (await (await fetch(`${service.baseUrl}/api/tasks/status/${jobs.parse.job_id}`)).json()).result.data
      expect(parse).toMatchObject({ city: city.name, region: city.code, deal_type: 'rent', price: 28000 })
      const similar = (await (await fetch(`${service.baseUrl}/api/tasks/status/${jobs['find-similar'].job_id}`)).json()).result
      expect(similar.summary.region).toMatchObject({ code: city.code, searched_in: { level: 'city', cian_id: city.cianId } })
      const searches = site.requests.filter((r) => r.startsWith('/cat.php')).slice(searchesBefore)
      expect(searches.length).toBeGreaterThan(0)
      for (const search of searches) expect(new URL(search, 'http://x').searchParams.get('region')).toBe(String(city.cianId))
      // The Moscow cards the search page returned were seen and rejected, never used.
      expect(similar.summary.rejected_by_reason.other_region).toBeGreaterThan(0)
      expect(similar.comparables.length).toBeGreaterThanOrEqual(5)
      for (const analog of similar.comparables) expect(analog.city).toBe(city.name)

      expect(report.result.valuation.deal_type).toBe('rent')
      const html = await (await fetch(`${service.baseUrl}${report.result.report_url}`)).text()
      expect(html).toContain('Оценка аренды')
      expect(html).toMatch(/28\s000 ₽\/мес/)
      expect(html).not.toContain('Быстрая продажа')
    }, 120_000)
  }

  it('says plainly when a city has no cian id, and searches nowhere else', async () => {
    const before = site.requests.length
    const response = await fetch(`${service.baseUrl}/api/tasks/find-similar`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        session_id: 'region-tagil',
        target_property: { deal_type: 'rent', property_type: 'flat', city: 'Нижний Тагил', address: 'Свердловская обл., Нижний Тагил, ул. Ленина, 1', price: 20000, total_area: 40, rooms: 1 },
        search_strategy: 'citywide',
      }),
    })
    const status = await waitForStatus(service.baseUrl, (await response.json()).job_id, ['finished', 'failed'])
    expect(status.status).toBe('finished')
    expect(status.result.summary.region).toMatchObject({ code: 'nizhniy-tagil', searched_in: null })
    expect(status.result.summary.notices.join(' ')).toContain('пока не охвачен поиском')
    expect(site.requests.slice(before).filter((r) => r.startsWith('/cat.php'))).toEqual([])
  })
})
