import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { createStores } from '../../../src/store/index.ts'
import { createTaskServices } from '../../../src/services.ts'
import type { Property } from '../../../src/tasks/parse/property.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { spbAnalog, TARGET_URL } from '../../helpers/listings.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>



beforeAll(async () => {
  site = await startFixtureServer({
    '/sale/flat/315831388/': 'cian-offer-315831388.html',
    '/sale/flat/1/': 'cian-captcha-2024.html',
    '/sale/flat/2/': '<html><head><title>Главная</title></head><body><h1>Добро пожаловать</h1></body></html>',
  })
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    env: { FETCH_REWRITE: `https://spb.cian.ru=${site.origin},https://www.cian.ru=${site.origin}`, FETCH_RETRIES: '0' },
  })
  const stores = createStores(service.db.db)
  await stores.listings.upsert([
    ...Array.from({ length: 8 }, (_, i) => spbAnalog(i)),
    spbAnalog(20, { region: 'msk', city: 'Москва', address: 'Москва, Тверская, 1', offer_id: '777', url: 'https://www.cian.ru/sale/flat/777/' }),
    spbAnalog(21, { price: 900_000_000, offer_id: '778', url: 'https://spb.cian.ru/sale/flat/778/' }),
  ])
})
afterAll(async () => {
  await service.close()
  await site.close()
})

async function post(path: string, body: object) {
  return fetch(service.baseUrl + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
}

describe('the parse task end to end', () => {
  it('parses a cian page served through FETCH_REWRITE into the session and the listings store', async () => {
    const response = await post('/api/tasks/parse', { url: TARGET_URL, session_id: 'p-1' })
    expect(response.status).toBe(202)
    const { job_id } = await response.json()
    const status = await waitForStatus(service.baseUrl, job_id, ['finished', 'failed'])
    expect(status.status).toBe('finished')
    expect(status.result).toMatchObject({ success: true, session_id: 'p-1' })
    expect(status.result.data).toMatchObject({ offer_id: '315831388', price: 78000000, rooms: 3, total_area: 126.4, floor: 4, floors_total: 6 })
    expect(site.requests).toContain('/sale/flat/315831388/')
    const session = await (await fetch(`${service.baseUrl}/api/sessions/p-1`)).json()
    expect(session.target.offer_id).toBe('315831388')
    const stored = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.listings WHERE offer_id = '315831388'`.execute(service.db.db)
    expect(stored.rows[0].n).toBe(1)
  })

  it('fails a captcha page with the block named, after retrying it', async () => {
    const { job_id } = await (await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/1/', session_id: 'p-2' })).json()
    const row = await service.queue.monitoring.findJob(job_id)
    expect(row?.max_attempts).toBe(3)
    // The first failure schedules a retry with back-off: the poller sees `scheduled` and the reason.
    const status = await waitForStatus(service.baseUrl, job_id, ['scheduled', 'failed'])
    expect(status.error).toMatch(/Blocked by cian: captcha/)
    // Its retry would otherwise land in the queue counts the next tests compare.
    await service.queue.cancel(job_id)
  })

  it('fails a page that is not a listing at once, without retries', async () => {
    const { job_id } = await (await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/2/', session_id: 'p-3' })).json()
    const status = await waitForStatus(service.baseUrl, job_id, ['failed'])
    expect(status).toMatchObject({ attempt: 1, error: expect.stringMatching(/not a listing/) })
  })

  it.each([
    ['http://127.0.0.1/sale/flat/1/'],
    ['https://example.com/sale/flat/1/'],
    ['file:///etc/passwd'],
    ['not a url'],
  ])('refuses %s with 400 before any job exists', async (url) => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    const response = await post('/api/tasks/parse', { url, session_id: 'p-4' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: expect.any(String), details: expect.anything() })
    expect((await service.queue.monitoring.stats({ fresh: true })).queued_jobs).toBe(before.queued_jobs)
  })
})

describe('the pipeline', () => {
  it('runs parse → find-similar → report from one URL to a report', async () => {
    const response = await post('/api/tasks/pipeline', { url: TARGET_URL, session_id: 'pipe-1', limit: 5, source: 'store', search_strategy: 'auto' })
    expect(response.status).toBe(202)
    const body = await response.json()
    const report = await waitForStatus(service.baseUrl, body.jobs.report.job_id, ['finished', 'failed', 'canceled'], 30_000)
    expect(report.status).toBe('finished')
    const similar = await waitForStatus(service.baseUrl, body.jobs['find-similar'].job_id, ['finished'])
    expect(similar.result.count).toBeGreaterThanOrEqual(5)
    const urls = similar.result.comparables.map((c: Property) => c.url)
    expect(urls).not.toContain('https://www.cian.ru/sale/flat/777/')
    expect(urls).not.toContain('https://spb.cian.ru/sale/flat/778/')
    expect(urls).not.toContain(TARGET_URL)
    const html = await (await fetch(service.baseUrl + report.result.report_url)).text()
    expect(html).toContain('<svg')
    expect(report.result.valuation.fair_price).toBeGreaterThan(0)
    const markdown = await fetch(service.baseUrl + report.result.markdown_url)
    expect(markdown.headers.get('content-type')).toContain('text/markdown')
  })

  it('ends the dependents clearly when the parse fails', async () => {
    const body = await (await post('/api/tasks/pipeline', { url: 'https://spb.cian.ru/sale/flat/2/', session_id: 'pipe-2' })).json()
    const parse = await waitForStatus(service.baseUrl, body.jobs.parse.job_id, ['failed'])
    expect(parse.status).toBe('failed')
    for (const ref of ['find-similar', 'report']) {
      const status = await waitForStatus(service.baseUrl, body.jobs[ref].job_id, ['canceled', 'failed', 'finished'])
      expect(status.status).toBe('canceled')
      expect(status.error).toMatch(/depends on/)
    }
  })
})
