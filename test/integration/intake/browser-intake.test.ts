import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { readFixture, startFixtureServer } from '../../helpers/fixture-server.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const PAGES = [
  { name: 'cian', url: 'https://spb.cian.ru/sale/flat/315831388/', file: 'cian-offer-315831388.html', path: '/sale/flat/315831388/' },
  { name: 'avito', url: 'https://www.avito.ru/tyumen/kvartiry/1-k._kvartira_50_m_516_et._7626114474', file: 'avito-item-7626114474.html', path: '/tyumen/kvartiry/1-k._kvartira_50_m_516_et._7626114474' },
  { name: 'domclick', url: DOMCLICK_URL(), file: 'domclick-card-2078584220.html', path: new URL(DOMCLICK_URL()).pathname },
]
const SERP_URL = 'https://www.cian.ru/cat.php?deal_type=rent&engine_version=2&offer_type=flat&region=1&room1=1&room2=1&type=4'

function DOMCLICK_URL(): string {
  return JSON.parse(readFixture('domclick-card-2078584220.expected.json')).url
}

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>

beforeAll(async () => {
  site = await startFixtureServer(Object.fromEntries(PAGES.map((p) => [p.path, p.file])))
  const origins = [...new Set(PAGES.map((p) => new URL(p.url).origin))]
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    env: { FETCH_REWRITE: origins.map((o) => `${o}=${site.origin}`).join(','), FETCH_RETRIES: '0' },
  })
})
afterAll(async () => {
  await service?.close()
  await site?.close()
})

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const raw = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)
  return fetch(service.baseUrl + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: raw as BodyInit })
}

async function finished(jobId: string) {
  const status = await waitForStatus(service.baseUrl, jobId, ['finished', 'failed'], 60_000)
  expect(status.status, JSON.stringify(status.error)).toBe('finished')
  return status.result
}

describe('the parse task with html from the user\'s browser', () => {
  it.each(PAGES.map((p) => [p.name, p] as const))('%s: the same fields as through the fetcher, and no request reaches the site', async (_name, page) => {
    const fetched = await finished((await (await post('/api/tasks/parse', { url: page.url, session_id: `fetch-${page.name}` })).json()).job_id)
    expect(site.requests.filter((r) => r === page.path)).toHaveLength(1)
    const before = site.requests.length
    const response = await post('/api/tasks/parse', { url: page.url, session_id: `browser-${page.name}`, html: readFixture(page.file) })
    expect(response.status).toBe(202)
    const sent = await finished((await response.json()).job_id)
    expect(site.requests.length).toBe(before)
    expect(sent).toMatchObject({ success: true, source: 'browser', session_id: `browser-${page.name}` })
    expect(fetched.source).toBe('server')
    expect(sent.data).toEqual(fetched.data)
    expect(sent.data.price).toBeGreaterThan(0)
  })

  it('accepts a gzip-encoded body and reads the page from it', async () => {
    const body = gzipSync(JSON.stringify({ url: PAGES[0].url, session_id: 'gzip-1', html: readFixture(PAGES[0].file) }))
    const response = await post('/api/tasks/parse', body, { 'Content-Encoding': 'gzip' })
    expect(response.status).toBe(202)
    expect((await finished((await response.json()).job_id)).data.offer_id).toBe('315831388')
  })

  it('refuses a body past 5 MB with 413, also when gzip hides it (a zip bomb)', async () => {
    const big = { url: PAGES[0].url, session_id: 'big-1', html: 'x'.repeat(5 * 1024 * 1024 + 10) }
    const plain = await post('/api/tasks/parse', big)
    expect(plain.status).toBe(413)
    expect(await plain.json()).toMatchObject({ error: 'Request body too large', details: { limit_bytes: 5 * 1024 * 1024 } })
    const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024, 0x20))
    expect(bomb.byteLength).toBeLessThan(1024 * 1024)
    const zipped = await post('/api/tasks/parse', bomb, { 'Content-Encoding': 'gzip' })
    expect(zipped.status).toBe(413)
    // Other routes keep the small default limit.
    const other = await post('/api/tasks/find-similar', { session_id: 's', padding: 'x'.repeat(100_000) })
    expect(other.status).toBe(413)
  })

  it('still validates the url: an html submission for a non-listing host is a 400', async () => {
    const response = await post('/api/tasks/parse', { url: 'https://example.com/flat/1', session_id: 'bad-1', html: readFixture(PAGES[0].file) })
    expect(response.status).toBe(400)
    expect((await response.json()).details).toMatchObject({ reason: 'host-not-allowed' })
  })

  it('refuses a corrupt gzip body with 400, never a 500', async () => {
    const response = await post('/api/tasks/parse', new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]), { 'Content-Encoding': 'gzip' })
    expect(response.status).toBe(400)
  })
})

describe('the bookmarklet\'s intake route', () => {
  async function tokenFor(sessionId: string): Promise<string> {
    const response = await post(`/api/sessions/${sessionId}/intake-token`, {})
    expect(response.status).toBe(201)
    return (await response.json()).token
  }

  it('takes a page posted with the session\'s token and starts its parse', async () => {
    const token = await tokenFor('intake-a')
    const before = site.requests.length
    const response = await post('/api/intake', { session_id: 'intake-a', token, url: PAGES[0].url, html: readFixture(PAGES[0].file) })
    expect(response.status).toBe(202)
    const { job_id } = await response.json()
    expect((await finished(job_id)).source).toBe('browser')
    expect(site.requests.length).toBe(before)
    const latest = await (await fetch(`${service.baseUrl}/api/sessions/intake-a/intake`)).json()
    expect(latest).toMatchObject({ received: true, job_id, url: PAGES[0].url })
  })

  it('refuses a page posted into someone else\'s session, and a made-up token', async () => {
    const mine = await tokenFor('intake-mine')
    await tokenFor('intake-theirs')
    const intoTheirs = await post('/api/intake', { session_id: 'intake-theirs', token: mine, url: PAGES[0].url, html: '<html></html>' })
    expect(intoTheirs.status).toBe(403)
    const madeUp = await post('/api/intake', { session_id: 'intake-mine', token: 'guess', url: PAGES[0].url, html: '<html></html>' })
    expect(madeUp.status).toBe(403)
    expect(await (await fetch(`${service.baseUrl}/api/sessions/intake-theirs/intake`)).json()).toMatchObject({ received: false, job_id: null })
  })

  it('answers a form post (the CSP-proof way) with a page in Russian', async () => {
    const token = await tokenFor('intake-form')
    const form = new FormData()
    for (const [key, value] of Object.entries({ session_id: 'intake-form', token, url: PAGES[0].url, html: readFixture(PAGES[0].file) })) form.set(key, value)
    const response = await fetch(`${service.baseUrl}/api/intake`, { method: 'POST', body: form, headers: { Accept: 'text/html' } })
    expect(response.status).toBe(202)
    expect(await response.text()).toContain('Страница получена')
    const wrong = new FormData()
    for (const [key, value] of Object.entries({ session_id: 'intake-a', token, url: PAGES[0].url, html: '<p>x</p>' })) wrong.set(key, value)
    const refused = await fetch(`${service.baseUrl}/api/intake`, { method: 'POST', body: wrong, headers: { Accept: 'text/html' } })
    expect(refused.status).toBe(403)
    expect((await refused.json()).details.hint_ru).toContain('ключ закладки не подходит')
  })

  it('allows CORS from the listing sites\' origins on that route only', async () => {
    const preflight = (origin: string, path = '/api/intake') =>
      fetch(`${service.baseUrl}${path}`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } })
    expect((await preflight('https://spb.cian.ru')).headers.get('access-control-allow-origin')).toBe('https://spb.cian.ru')
    expect((await preflight('https://www.avito.ru')).headers.get('access-control-allow-origin')).toBe('https://www.avito.ru')
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull()
    expect((await preflight('https://cian.ru.evil.example')).headers.get('access-control-allow-origin')).toBeNull()
    expect((await preflight('https://spb.cian.ru', '/api/tasks/parse')).headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('importing listings into the store', () => {
  it('a saved SERP fills the store, and find-similar with source "store" returns its cards', async () => {
    const response = await fetch(`${service.baseUrl}/api/listings/import?url=${encodeURIComponent(SERP_URL)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Encoding': 'gzip' },
      body: gzipSync(readFixture('cian-serp-rent-moscow-2023.html')),
    })
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(body).toMatchObject({ page_kind: 'serp', total_rows: 28 })
    expect(body.imported).toBeGreaterThanOrEqual(25)
    const expected = JSON.parse(readFixture('cian-serp-rent-moscow-2023.expected.json'))
    const first = expected.cards[0]
    const target = { price: first.price, total_area: first.total_area, rooms: first.rooms, deal_type: 'rent', property_type: 'flat', city: 'Москва', region: 'msk' }
    const similar = await post('/api/tasks/find-similar', { session_id: 'serp-1', target_property: target, search_strategy: 'citywide', source: 'store', limit: 10 })
    expect(similar.status).toBe(202)
    const result = await finished((await similar.json()).job_id)
    const ids = new Set(expected.cards.map((c: { offer_id: string }) => c.offer_id))
    const analogs: Array<{ offer_id: string; source: string }> = result.comparables
    expect(analogs.length).toBeGreaterThan(0)
    for (const analog of analogs) expect(ids.has(analog.offer_id), analog.offer_id).toBe(true)
    expect(analogs.every((a) => a.source === 'cian')).toBe(true)
  })

  it('JSON rows are validated one by one: bad rows reported with reasons, good rows kept', async () => {
    const rows = [
      { url: 'https://spb.cian.ru/sale/flat/880001/', price: 12_000_000, total_area: 50, rooms: 2, city: 'Санкт-Петербург' },
      { url: 'https://spb.cian.ru/sale/flat/880002/', price: -5, total_area: 50 },
      { url: 'https://example.com/sale/flat/880003/', price: 10_000_000, total_area: 40 },
      { url: 'https://spb.cian.ru/sale/flat/880004/', price: 9_000_000 },
      { url: 'https://www.avito.ru/sankt-peterburg/kvartiry/2-k._kvartira_55_m_37_et._880005', price: 11_000_000, total_area: 55, deal_type: 'sale' },
    ]
    const response = await post('/api/listings/import', rows)
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(body.imported).toBe(2)
    expect(body.total_rows).toBe(5)
    expect(body.rejected.map((r: { row: number }) => r.row)).toEqual([2, 3, 4])
    expect(body.rejected[0].errors[0]).toMatchObject({ field: 'price' })
    expect(body.rejected[1].errors[0]).toMatchObject({ field: 'url' })
    expect(body.rejected[2].errors[0]).toMatchObject({ field: 'total_area' })
  })

  it('CSV rows likewise, with quoted cells and a semicolon delimiter', async () => {
    const csv = 'url;price;total_area;rooms;address\n' +
      'https://spb.cian.ru/sale/flat/990001/;15000000;61,5;2;"Санкт-Петербург; Невский пр., 1"\n' +
      'https://spb.cian.ru/sale/flat/990002/;дорого;40;1;x\n'
    const response = await fetch(`${service.baseUrl}/api/listings/import`, { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: csv })
    const body = await response.json()
    expect(body).toMatchObject({ imported: 1, total_rows: 2 })
    expect(body.rejected).toEqual([expect.objectContaining({ row: 2, errors: [expect.objectContaining({ field: 'price' })] })])
  })

  it('a body with no valid row is a 400 that lists every reason; a non-listing body a 400', async () => {
    const bad = await post('/api/listings/import', [{ url: 'x' }, null])
    expect(bad.status).toBe(400)
    const body = await bad.json()
    expect(body).toMatchObject({ error: 'No row could be imported', details: { imported: 0, total_rows: 2 } })
    expect(body.details.rejected.map((r: { row: number }) => r.row)).toEqual([1, 2])
    expect(body.details.rejected[0].errors.length).toBeGreaterThan(0)
    expect((await post('/api/listings/import', { nope: 1 })).status).toBe(400)
    expect((await post('/api/listings/import', 'not json')).status).toBe(400)
  })
})
