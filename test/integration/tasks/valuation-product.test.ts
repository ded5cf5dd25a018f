import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { createStores } from '../../../src/store/index.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { cianOfferPage } from '../../helpers/analog-pages.ts'
import { builtRentals, cianRentalPage, rentalUrl, TYUMEN } from '../../helpers/built-pages.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { spbAnalog, TARGET_URL } from '../../helpers/listings.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'

const KEY = 'valuation-test-key'
const ADMIN_KEY = 'valuation-admin-key'
const AUTH = { authorization: `Bearer ${KEY}` }
const BLOCKED_ANALOG = 4

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>
let hanging: Server
const outDir = mkdtempSync(path.join(tmpdir(), 'housler-valuation-'))

beforeAll(async () => {
  // The target and every analog's own page are the saved real cian offer, with the facts the search
  // cards lack (build year, ceiling height) in the page's state; one analog's page is a captcha.
  const routes: Record<string, string> = {
    '/sale/flat/315831388/': cianOfferPage({ offerId: '315831388', buildYear: 2020, ceilingHeight: 3.0 }),
    '/sale/flat/95001/': cianOfferPage({ offerId: '95001', buildYear: 2016, ceilingHeight: 2.8 }),
    '/rent/flat/331090051/': 'cian-offer-331090051.html',
  }
  for (let i = 0; i < 8; i++) routes[`/sale/flat/9000${i}/`] = i === BLOCKED_ANALOG ? 'cian-captcha-2024.html' : cianOfferPage({ offerId: `9000${i}`, buildYear: 2015, ceilingHeight: 2.7 })
  site = await startFixtureServer(routes)
  // www.cian.ru: search pages are empty, listing pages never answer (their parse jobs run until canceled).
  hanging = createServer((request, response) => {
    if (request.url?.startsWith('/cat.php')) response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body>Ничего не найдено</body></html>')
  })
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
  const hangingOrigin = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    worker: { concurrency: 8 },
    env: {
      API_KEYS: KEY,
      ADMIN_API_KEYS: ADMIN_KEY,
      FETCH_REWRITE: `https://spb.cian.ru=${site.origin},https://tyumen.cian.ru=${site.origin},https://www.cian.ru=${hangingOrigin}`,
      FETCH_RETRIES: '0',
      ANALOG_PAGES_CONCURRENCY: '2',
      // One fetch per analog page: the browser rung would fetch the blocked child's page a second time.
      FETCH_STRATEGIES: 'plain',
    },
  })
  // Search cards as the store keeps them: no build year, no ceiling height.
  await createStores(service.db.db).listings.upsert(Array.from({ length: 8 }, (_, i) => spbAnalog(i)))
}, 60_000)

afterAll(async () => {
  hanging?.closeAllConnections()
  await new Promise((resolve) => hanging?.close(resolve))
  await service?.close()
  await site?.close()
})

async function api(method: string, pathname: string, body?: object, headers: Record<string, string> = AUTH) {
  return fetch(service.baseUrl + pathname, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
}

async function statusOf(jobId: string, wanted: string[], timeoutMs = 90_000): Promise<Record<string, any>> {
  return until(`job ${jobId} ${wanted.join('/')}`, async () => {
    const status = await (await api('GET', `/api/tasks/status/${jobId}`)).json()
    return wanted.includes(status.status) ? status : undefined
  }, timeoutMs, 50)
}

const squash = (s: string) => s.replace(/\s+/g, ' ')
const rub = (n: number) => `${new Intl.NumberFormat('ru-RU').format(n).replace(/\s/g, ' ')} ₽`

describe('analogs’ own pages as child jobs of find-similar', () => {
  let report: Record<string, any>
  let similar: Record<string, any>

  beforeAll(async () => {
    const response = await api('POST', '/api/tasks/pipeline', { url: TARGET_URL, session_id: 'vp-1', limit: 5, source: 'both' })
    expect(response.status).toBe(202)
    const body = await response.json()
    report = await statusOf(body.jobs.report.job_id, ['finished', 'failed', 'canceled'])
    similar = await statusOf(body.jobs['find-similar'].job_id, ['finished', 'failed'])
  }, 120_000)

  it('runs a child parse job per analog whose card lacks facts, visible in the parent’s status', () => {
    expect(report.status).toBe('finished')
    expect(similar.children).toEqual({ total: 5, finished: 4, failed: 1 })
    expect(site.requests.filter((p) => /^\/sale\/flat\/9000\d\/$/.test(p))).toHaveLength(5)
  })

  it('values with the facts from the analogs’ pages', () => {
    const fromPages = similar.result.comparables.filter((c: any) => c.facts_source === 'page')
    expect(fromPages).toHaveLength(4)
    for (const c of fromPages) expect(c).toMatchObject({ year_built: 2015, ceiling_height: 2.7 })
    const adjustments = report.result.valuation.adjustments
    expect(adjustments).toContainEqual(expect.objectContaining({ parameter: 'ceiling_height', target_value: 3, analogs_value: 2.7 }))
    expect(adjustments).toContainEqual(expect.objectContaining({ parameter: 'building_age', target_value: 2020, analogs_value: 2015 }))
  })

  it('leaves the blocked analog with its card facts and a note', async () => {
    const blocked = similar.result.comparables.find((c: any) => c.url === `https://spb.cian.ru/sale/flat/9000${BLOCKED_ANALOG}/`)
    expect(blocked).toMatchObject({ facts_source: 'card', year_built: null, ceiling_height: null })
    expect(blocked.facts_note).toMatch(/заблокировал.*данные карточки/)
    const html = await (await api('GET', report.result.report_url)).text()
    expect(html).toContain('данные карточки поиска')
  })

  it('does not fetch a page parsed within the last day again', async () => {
    const parsed = similar.result.comparables.filter((c: any) => c.facts_source === 'page').map((c: any) => new URL(c.url).pathname)
    const before = site.requests.length
    const { job_id } = await (await api('POST', '/api/tasks/find-similar', { session_id: 'vp-1', limit: 8, source: 'both' })).json()
    const again = await statusOf(job_id, ['finished', 'failed'])
    expect(again.status).toBe('finished')
    // The pages parsed by the first search come from the store; the rest (and the blocked one) are fetched.
    expect(site.requests.slice(before).filter((p) => parsed.includes(p))).toEqual([])
    expect(site.requests.slice(before)).toContain(`/sale/flat/9000${BLOCKED_ANALOG}/`)
    expect(again.children.total).toBe(8 - parsed.length)
    for (const c of again.result.comparables) if (parsed.includes(new URL(c.url).pathname)) expect(c.facts_source).toBe('page')
  })

  it('cancels the children when the parent is canceled', async () => {
    await createStores(service.db.db).listings.upsert(
      [0, 1, 2].map((i) => spbAnalog(i, { region: 'msk', city: 'Москва', address: `Москва, Тверская, ${i}`, offer_id: `9600${i}`, url: `https://www.cian.ru/sale/flat/9600${i}/`, lat: 55.76, lon: 37.6 })),
    )
    const target = { price: 80_000_000, total_area: 126, rooms: 3, region: 'msk', city: 'Москва', deal_type: 'sale', property_type: 'flat', market: 'new_building', address: 'Москва, Тверская, 9', lat: 55.76, lon: 37.6 }
    const { job_id } = await (await api('POST', '/api/tasks/find-similar', { session_id: 'vp-cancel', target_property: target, source: 'both', limit: 3, search_strategy: 'citywide' })).json()
    // Two at a time (ANALOG_PAGES_CONCURRENCY): the third waits for a free place.
    const running = await until('two children running', async () => {
      const status = await (await api('GET', `/api/tasks/status/${job_id}`)).json()
      return status.children?.total === 2 && status.message === 'Уточняем аналоги: 0 из 3' ? status : undefined
    })
    expect(running.status).toBe('started')
    const cancel = await api('POST', `/api/tasks/${job_id}/cancel`, undefined, { authorization: `Bearer ${ADMIN_KEY}` })
    expect(cancel.status).toBe(200)
    const children = await until('children canceled', async () => {
      const rows = await sql<{ status: string }>`SELECT j.status FROM housler._task_children c JOIN housler.jobs j ON j.id = c.child_job_id WHERE c.parent_job_id = ${job_id}`.execute(service.db.db)
      return rows.rows.every((row) => row.status === 'canceled') ? rows.rows : undefined
    })
    expect(children).toHaveLength(2)
    expect((await (await api('GET', `/api/tasks/status/${job_id}`)).json()).children).toEqual({ total: 2, finished: 0, failed: 2 })
  })
})

describe('analogs added by hand', () => {
  it('adds an analog by URL to the session, the table and the report', async () => {
    const response = await api('POST', '/api/sessions/vp-1/analogs', { url: 'https://spb.cian.ru/sale/flat/95001/' })
    expect(response.status).toBe(202)
    const parsed = await statusOf((await response.json()).job_id, ['finished', 'failed'])
    expect(parsed.status).toBe('finished')
    const session = await (await api('GET', '/api/sessions/vp-1')).json()
    expect(session.added_analogs.map((a: any) => a.url)).toEqual(['https://spb.cian.ru/sale/flat/95001/'])
    // The target stays the session's flat.
    expect(session.target.offer_id).toBe('315831388')
    const { job_id } = await (await api('POST', '/api/tasks/report', { session_id: 'vp-1', exclude_urls: ['https://spb.cian.ru/sale/flat/90001/'] })).json()
    const done = await statusOf(job_id, ['finished', 'failed'])
    expect(done.status).toBe('finished')
    expect(done.result.valuation.used_urls).toContain('https://spb.cian.ru/sale/flat/95001/')
    expect(done.result.valuation.used_urls).not.toContain('https://spb.cian.ru/sale/flat/90001/')
    expect(done.result.valuation.user_changes).toEqual({ added_urls: ['https://spb.cian.ru/sale/flat/95001/'], excluded_urls: ['https://spb.cian.ru/sale/flat/90001/'] })
    const html = await (await api('GET', done.result.report_url)).text()
    expect(html).toMatch(/href="https:\/\/spb\.cian\.ru\/sale\/flat\/95001\/"/)
    expect(html).toContain('добавлен вручную')
    expect(html).toMatch(/Исключены из расчёта:<\/p><ul><li data-excluded-analog>https:\/\/spb\.cian\.ru\/sale\/flat\/90001\//)
    // The exclusion is remembered: a report without exclude_urls keeps it.
    expect((await (await api('GET', '/api/sessions/vp-1')).json()).excluded_urls).toEqual(['https://spb.cian.ru/sale/flat/90001/'])
  })

  it('refuses an analog from another city or deal type with a clear message', async () => {
    const { job_id } = await (await api('POST', '/api/sessions/vp-1/analogs', { url: 'https://tyumen.cian.ru/rent/flat/331090051/' })).json()
    const failed = await statusOf(job_id, ['failed'])
    expect(failed.error).toMatch(/^Аналог не добавлен: объявление из другого города \(Тюмень\), а квартира — Санкт-Петербург/)
    const session = await (await api('GET', '/api/sessions/vp-1')).json()
    expect(session.added_analogs.map((a: any) => a.url)).not.toContain('https://tyumen.cian.ru/rent/flat/331090051/')
  })

  it('adds an analog from a saved page, sent gzip-compressed as the wizard sends it, without a request to the site', async () => {
    const url = 'https://spb.cian.ru/sale/flat/95002/'
    const html = cianOfferPage({ offerId: '95002', buildYear: 2012, ceilingHeight: 2.9 })
    // Past the 64 KB body limit of other routes: this route takes a whole page, as the parse route does.
    expect(html.length).toBeGreaterThan(500_000)
    const response = await fetch(`${service.baseUrl}/api/sessions/vp-1/analogs`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ url, html })),
    })
    expect(response.status).toBe(202)
    const parsed = await statusOf((await response.json()).job_id, ['finished', 'failed'])
    expect(parsed.status).toBe('finished')
    expect(parsed.result).toMatchObject({ source: 'browser', data: { url, offer_id: '95002', year_built: 2012, ceiling_height: 2.9 } })
    expect(site.requests).not.toContain('/sale/flat/95002/')
    const session = await (await api('GET', '/api/sessions/vp-1')).json()
    expect(session.added_analogs.map((a: any) => a.url)).toEqual(['https://spb.cian.ru/sale/flat/95001/', url])
    const done = await statusOf((await (await api('POST', '/api/tasks/report', { session_id: 'vp-1' })).json()).job_id, ['finished', 'failed'])
    expect(done.result.valuation.used_urls).toContain(url)
    const report = await (await api('GET', done.result.report_url)).text()
    expect(report).toMatch(/<tr[^>]*><td><a href="https:\/\/spb\.cian\.ru\/sale\/flat\/95002\/"[^]*?добавлен вручную/)
  })

  it('refuses a saved page from another city or of another deal type, and one past the page limit', async () => {
    const refusal = async (sessionId: string, url: string, html: string) => {
      const { job_id } = await (await api('POST', `/api/sessions/${sessionId}/analogs`, { url, html })).json()
      return (await statusOf(job_id, ['failed', 'finished'])).error
    }
    const tyumen = rentalUrl(TYUMEN)
    expect(await refusal('vp-1', tyumen, cianRentalPage(TYUMEN))).toMatch(/^Аналог не добавлен: объявление из другого города \(Тюмень\), а квартира — Санкт-Петербург/)
    expect((await (await api('GET', '/api/sessions/vp-1')).json()).added_analogs.map((a: any) => a.url)).not.toContain(tyumen)
    // The same rental page against a Tyumen flat for sale: same city, other deal type.
    await createStores(service.db.db).sessions.saveTarget('vp-tyumen-sale', '', { ...builtRentals(TYUMEN)[0], url: '', deal_type: 'sale', price: 6_000_000 })
    expect(await refusal('vp-tyumen-sale', tyumen, cianRentalPage(TYUMEN))).toBe('Аналог не добавлен: это аренда, а оценивается продажа')
    expect((await (await api('GET', '/api/sessions/vp-tyumen-sale')).json()).added_analogs).toEqual([])
    const huge = await api('POST', '/api/sessions/vp-1/analogs', { url: 'https://spb.cian.ru/sale/flat/95004/', html: 'x'.repeat(5 * 1024 * 1024 + 1) })
    expect(huge.status).toBe(413)
    expect(await huge.json()).toMatchObject({ code: 'PayloadTooLarge', details: { limit_bytes: 5 * 1024 * 1024 } })
    // Only what the parse route takes for a saved page: no role, no other session.
    const unknownField = await api('POST', '/api/sessions/vp-1/analogs', { url: tyumen, html: '<html></html>', role: 'target' })
    expect(unknownField.status).toBe(400)
  })

  it('refuses a bad URL before any job exists', async () => {
    const response = await api('POST', '/api/sessions/vp-1/analogs', { url: 'http://127.0.0.1/sale/flat/1/' })
    expect(response.status).toBe(400)
  })
})

describe('sale scenarios from the listings store', () => {
  it('states time on market from the analogs’ history, and says so when there is none', async () => {
    const db = service.db.db
    const analogs = Array.from({ length: 6 }, (_, i) => spbAnalog(i, { offer_id: `9700${i}`, url: `https://spb.cian.ru/sale/flat/9700${i}/` }))
    await createStores(db).listings.upsert(analogs)
    const target = { ...spbAnalog(3, { offer_id: '97999', url: 'https://spb.cian.ru/sale/flat/97999/' }) }
    const reportFor = async () => (await statusOf((await (await api('POST', '/api/tasks/report', { session_id: 'vp-scen', target, comparables: analogs })).json()).job_id, ['finished'])).result
    const first = await reportFor()
    // Every analog first seen just now: no exposure known.
    expect(first.valuation.scenarios).toMatchObject({ available: false, analogs_with_history: 0 })
    expect(first.valuation.scenarios.method).toMatch(/^Недостаточно данных/)
    expect(await (await api('GET', first.report_url)).text()).not.toContain('data-section="scenarios"')
    // History as the store would have gathered it: three analogs left the market after 30, 40 and 50 days.
    for (const [i, a] of analogs.entries()) {
      const gone = i < 3
      await sql`UPDATE housler.listings SET first_seen = now() - make_interval(days => ${gone ? 50 + i * 10 : 60 + i * 10}),
        last_seen = now() - make_interval(days => ${gone ? 20 : 0}) WHERE url = ${a.url}`.execute(db)
    }
    const second = await reportFor()
    const scenarios = second.valuation.scenarios
    expect(scenarios).toMatchObject({ available: true, analogs_with_history: 6, sold: 3, still_listed: 3 })
    expect(scenarios.scenarios.map((s: any) => s.shift)).toEqual([-0.05, 0, 0.05, 0.1])
    const html = await (await api('GET', second.report_url)).text()
    expect(html).toContain('data-section="scenarios"')
    expect(html).toContain('Каплана–Мейера')
    // One section of advice, in every rendering: the price to set first, then the market and the listing.
    expect(html.match(/<h2>[^<]*<\/h2>/g)!.filter((h) => /Что сделать|За сколько|Какую ставку/.test(h))).toEqual(['<h2>Что сделать</h2>'])
    expect(html).toMatch(/<h2>Что сделать<\/h2>\s*<ol class="advice" data-section="actions"><li data-action="price">[^<]+ ₽ — справедливую цену (плюс [\d,]+ % на торг|без наценки)/)
    const markdown = await (await api('GET', second.markdown_url)).text()
    expect(markdown.split('\n').filter((l) => /^## (Что сделать|За сколько|Какую ставку)/.test(l))).toEqual(['## Что сделать'])
    const json = await (await api('GET', `${second.report_url}?format=json`)).json()
    expect(json.advice.actions.filter((a: any) => a.topic === 'price')).toHaveLength(1)
    expect(json.advice.actions.slice(0, 2).map((a: any) => a.topic)).toEqual(['price', 'bargaining'])
    // The time on market at the fair price is advice only when the scenarios give it a number.
    const atFair = json.scenarios.scenarios.find((row: any) => row.shift === 0)
    expect(json.advice.actions.some((a: any) => /^По справедливой цене аналоги уходили с рынка примерно за \d+ дн\.$/.test(a.text))).toBe(atFair.days !== null)
  })
})

describe('time on market from publication dates', () => {
  it('counts an analog as listed since its publication date when the site gave one', async () => {
    const stores = createStores(service.db.db)
    const published = spbAnalog(1, { offer_id: '97500', url: 'https://spb.cian.ru/sale/flat/97500/', published_at: '2026-01-15T09:00:00.000Z' })
    const unpublished = spbAnalog(2, { offer_id: '97501', url: 'https://spb.cian.ru/sale/flat/97501/' })
    await stores.listings.upsert([published, unpublished])
    const history = await stores.listings.history([published.url, unpublished.url])
    const byUrl = new Map(history.map((h) => [h.url, h]))
    expect(byUrl.get(published.url)?.first_seen).toBe('2026-01-15T09:00:00.000Z')
    // Without a publication date: since the store first saw it (just now).
    expect(Date.now() - Date.parse(byUrl.get(unpublished.url)!.first_seen)).toBeLessThan(60_000)
  })
})

describe('the report as a PDF and a share link', () => {
  let report: Record<string, any>
  beforeAll(async () => {
    report = (await statusOf((await (await api('POST', '/api/tasks/report', { session_id: 'vp-1' })).json()).job_id, ['finished'])).result
  }, 60_000)

  it('renders an A4 PDF whose text holds the fair price, the range and the analog table', async () => {
    const response = await api('GET', `${report.report_url}?format=pdf`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/pdf')
    const file = path.join(outDir, 'report.pdf')
    writeFileSync(file, Buffer.from(await response.arrayBuffer()))
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('%PDF-')
    const text = squash(execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }))
    const v = report.valuation
    expect(text).toContain(rub(v.fair_price))
    // The range as the report states it, rounded for people, around the fair price.
    const range = /продаются за ([\d ]+) ₽ – ([\d ]+) ₽/.exec(text)
    expect(range).not.toBeNull()
    const [low, high] = [range![1], range![2]].map((x) => Number(x.replace(/\D/g, '')))
    expect(low).toBeLessThan(v.fair_price)
    expect(high).toBeGreaterThan(v.fair_price)
    expect(Math.abs(low / v.price_range.lower_bound - 1)).toBeLessThan(0.01)
    // «Как считали» is printed open: the adjustments and their sources are on paper.
    expect(text).toContain('шкала модели Housler')
    expect(text).toContain('Аналоги')
    expect(text).toContain('Профессора Попова')
    expect(text).toContain('Сценарии продажи')
    expect(text.split('Что сделать')).toHaveLength(2)
    expect(text).not.toMatch(/За сколько выставлять|Какую ставку назначить/)
    // A4 is 595 × 842 points; the fonts are embedded.
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' })
    expect(info).toMatch(/Page size:\s+595(\.\d+)? x 842(\.\d+)? pts \(A4\)/)
    const fonts = execFileSync('pdffonts', [file], { encoding: 'utf8' }).split('\n').slice(2).filter(Boolean)
    expect(fonts.length).toBeGreaterThan(0)
    for (const line of fonts) expect(line).toMatch(/\byes\b/)
    // A page image to look at (written beside the PDF).
    execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', file, path.join(outDir, 'page')])
    expect(statSync(path.join(outDir, 'page-1.png')).size).toBeGreaterThan(10_000)
  }, 60_000)

  it('shares the report read-only without a key; a revoked, expired or forged link answers 404', async () => {
    expect((await api('GET', report.report_url, undefined, {})).status).toBe(401)
    const created = await api('POST', `/api/reports/${report.report_id}/share`)
    expect(created.status).toBe(201)
    const share = await created.json()
    expect(share.url).toMatch(/\/shared\/[0-9a-f-]{36}\.\d+\.[A-Za-z0-9_-]{43}$/)
    const opened = await fetch(share.url)
    expect(opened.status).toBe(200)
    expect(squash(await opened.text())).toContain(rub(report.valuation.fair_price))
    expect((await fetch(share.pdf_url)).headers.get('content-type')).toBe('application/pdf')
    // Read-only: nothing but GET is served there.
    expect((await fetch(share.url, { method: 'POST' })).status).not.toBe(200)
    const forged = share.url.replace(/.$/, (ch: string) => (ch === 'A' ? 'B' : 'A'))
    expect((await fetch(forged)).status).toBe(404)

    const revokedShare = await (await api('POST', `/api/reports/${report.report_id}/share`, { ttl_seconds: 3600 })).json()
    expect((await fetch(revokedShare.url)).status).toBe(200)
    expect((await api('DELETE', `/api/reports/${report.report_id}/share/${revokedShare.share_id}`)).status).toBe(200)
    const revoked = await fetch(revokedShare.url)
    expect(revoked.status).toBe(404)
    expect((await revoked.json()).error).toMatch(/отозвана, истекла/)

    await sql`UPDATE housler.report_shares SET expires_at = now() - interval '1 second' WHERE id = ${share.share_id}`.execute(service.db.db)
    expect((await fetch(share.url)).status).toBe(404)
  })
})

describe('the pipeline for a flat without a listing', () => {
  it('refuses a bad target_property, or one given together with a url, with 400 before any job exists', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    for (const body of [
      { session_id: 'vp-bad', target_property: { city: 'Москва', district: 'ЦАО', total_area: 5, rooms: 2 } },
      { session_id: 'vp-bad', target_property: { city: 'Москва', total_area: 50, rooms: 2 } },
      { session_id: 'vp-bad', target_property: { city: 'Москва', district: 'ЦАО', total_area: 50, rooms: 2, price: 'дорого' } },
      { session_id: 'vp-bad', url: TARGET_URL, target_property: { city: 'Москва', district: 'ЦАО', total_area: 50, rooms: 2 } },
      { session_id: 'vp-bad' },
    ]) {
      const response = await api('POST', '/api/tasks/pipeline', body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(await response.json()).toMatchObject({ error: expect.any(String), details: expect.anything() })
    }
    expect((await service.queue.monitoring.stats({ fresh: true })).queued_jobs).toBe(before.queued_jobs)
  })

  it('values a typed-in flat through find-similar and report, the flat becoming the session’s target', async () => {
    const response = await api('POST', '/api/tasks/pipeline', {
      session_id: 'vp-manual', source: 'store', limit: 5,
      target_property: { city: 'Санкт-Петербург', district: 'Петроградский', total_area: 120, rooms: 3, market: 'new_building', ceiling_height: 3, price: 80_000_000 },
    })
    expect(response.status).toBe(202)
    const body = await response.json()
    expect(Object.keys(body.jobs)).toEqual(['find-similar', 'report'])
    const report = await statusOf(body.jobs.report.job_id, ['finished', 'failed', 'canceled'])
    expect(report.status).toBe('finished')
    expect(report.result.valuation.fair_price).toBeGreaterThan(0)
    expect(report.result.valuation.asking_price).toBe(80_000_000)
    const session = await (await api('GET', '/api/sessions/vp-manual')).json()
    expect(session.target).toMatchObject({ city: 'Санкт-Петербург', total_area: 120, ceiling_height: 3, url: '' })
  })
})
