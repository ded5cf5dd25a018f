import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStores } from '../../src/store/index.ts'
import { createTaskServices } from '../../src/services.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { cianOfferPage } from '../helpers/analog-pages.ts'
import { launchChromium, openWizard, screenshot } from '../helpers/browser.ts'
import { readFixture, startFixtureServer } from '../helpers/fixture-server.ts'
import { spbAnalog } from '../helpers/listings.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

const STEP_TIMEOUT = 60_000
const ADDED_URL = 'https://spb.cian.ru/sale/flat/95001/'
// Saved with Ctrl+S, never served by the site: the wizard sends the page itself.
const SAVED_URL = 'https://spb.cian.ru/sale/flat/95002/'

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>
let browser: Browser

beforeAll(async () => {
  const routes: Record<string, string> = {
    '/sale/flat/95001/': cianOfferPage({ offerId: '95001', buildYear: 2016, ceilingHeight: 2.8 }),
    '/rent/flat/331090051/': 'cian-offer-331090051.html',
  }
  for (let i = 0; i < 8; i++) routes[`/sale/flat/9000${i}/`] = cianOfferPage({ offerId: `9000${i}`, buildYear: 2015, ceilingHeight: 2.7 })
  site = await startFixtureServer(routes)
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    worker: { concurrency: 6 },
    env: { FETCH_REWRITE: `https://spb.cian.ru=${site.origin},https://tyumen.cian.ru=${site.origin}`, FETCH_RETRIES: '0' },
  })
  await createStores(service.db.db).listings.upsert(Array.from({ length: 8 }, (_, i) => spbAnalog(i)))
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await service?.close()
  await site?.close()
})

async function addAnalog(page: Page, url: string) {
  await page.getByLabel('Добавить аналог по ссылке на объявление').fill(url)
  await page.getByRole('button', { name: 'Добавить', exact: true }).click()
}

describe('the wizard for a flat without a listing', () => {
  it('values a flat typed in by hand, adds analogs by URL and from a saved page, and refuses one from another city', async () => {
    const { page, context, problems } = await openWizard(browser, `${service.baseUrl}/?source=both`)
    await page.getByRole('button', { name: 'Ввести параметры вручную' }).click()
    const form = page.locator('#manual-form')
    await form.getByLabel('Город').fill('Санкт-Петербург')
    await form.getByLabel('Район').fill('Петроградский')
    await form.getByLabel('Адрес').fill('ул. Профессора Попова, 15')
    await form.getByLabel('Общая площадь, м²').fill('120')
    await form.getByLabel('Комнат (0 — студия)').fill('3')
    await form.getByLabel('Этаж', { exact: true }).fill('4')
    await form.getByLabel('Этажей в доме').fill('8')
    await form.getByLabel('Тип жилья').selectOption('new_building')
    await form.getByLabel('Год постройки').fill('2020')
    await form.getByLabel('Высота потолков, м').fill('3')
    await form.getByLabel(/^Цена, за которую/).fill('80000000')
    // A bound the API enforces is checked in the form first.
    await form.getByLabel('Этаж', { exact: true }).fill('9')
    await form.getByRole('button', { name: 'Оценить' }).click()
    await expect(page.locator('#manual-error').textContent()).resolves.toMatch(/этаж выше этажности/)
    await form.getByLabel('Этаж', { exact: true }).fill('4')
    await form.getByRole('button', { name: 'Оценить' }).click()

    await page.waitForSelector('#step-4:not([hidden]) #fair-price', { timeout: STEP_TIMEOUT })
    const fair = Number((await page.locator('#fair-price').textContent())!.replace(/\D/g, ''))
    expect(fair).toBeGreaterThan(50_000_000)
    const state = await page.evaluate(() => (globalThis as any).housler.state)
    const session = await (await fetch(`${service.baseUrl}/api/sessions/${state.sessionId}`)).json()
    expect(session.target).toMatchObject({ city: 'Санкт-Петербург', total_area: 120, rooms: 3, year_built: 2020, ceiling_height: 3, price: 80_000_000, market: 'new_building', url: '' })
    // The analogs' pages were parsed for the valuation: the ceiling adjustment compares with theirs.
    expect(state.report.valuation.adjustments).toContainEqual(expect.objectContaining({ parameter: 'ceiling_height', analogs_value: 2.7 }))
    await screenshot(page, 'wizard-manual-report')

    await page.getByRole('button', { name: /Аналоги/ }).click()
    await page.waitForSelector('#step-3:not([hidden]) #add-analog-form:not([hidden])')
    await addAnalog(page, 'https://tyumen.cian.ru/rent/flat/331090051/')
    await expect.poll(() => page.locator('#add-analog-error').textContent(), { timeout: STEP_TIMEOUT }).toMatch(/Аналог не добавлен: объявление из другого города \(Тюмень\)/)
    expect(await page.locator('#analogs a[href="https://tyumen.cian.ru/rent/flat/331090051/"]').count()).toBe(0)

    await addAnalog(page, ADDED_URL)
    const added = page.locator(`#analogs tbody tr:has(a[href="${ADDED_URL}"])`)
    await added.waitFor({ timeout: STEP_TIMEOUT })
    await expect(added.textContent()).resolves.toContain('добавлен вручную')

    // A page saved with Ctrl+S: its own og:url names the listing, the URL field stays empty.
    await page.getByLabel(/сохранённую в браузере \(Ctrl\+S\)/).setInputFiles({ name: 'analog.html', mimeType: 'text/html', buffer: Buffer.from(cianOfferPage({ offerId: '95002', buildYear: 2012, ceilingHeight: 2.9 })) })
    const saved = page.locator(`#analogs tbody tr:has(a[href="${SAVED_URL}"])`)
    await saved.waitFor({ timeout: STEP_TIMEOUT })
    await expect(saved.textContent()).resolves.toContain('добавлен вручную')
    expect(site.requests).not.toContain(new URL(SAVED_URL).pathname)
    // A saved page from another city is refused with the server's sentence, as a URL is.
    await page.getByLabel(/сохранённую в браузере \(Ctrl\+S\)/).setInputFiles({ name: 'tyumen.html', mimeType: 'text/html', buffer: Buffer.from(readFixture('cian-offer-331090051.html')) })
    await expect.poll(() => page.locator('#add-analog-error').textContent(), { timeout: STEP_TIMEOUT }).toMatch(/Аналог не добавлен: объявление из другого города \(Тюмень\)/)
    await screenshot(page, 'wizard-manual-saved-analog')

    await page.getByRole('button', { name: 'Далее: отчёт' }).click()
    await page.waitForSelector('#step-4:not([hidden]) #share', { timeout: STEP_TIMEOUT })
    const report = await page.evaluate(() => (globalThis as any).housler.state.report)
    expect(report.valuation.used_urls).toEqual(expect.arrayContaining([ADDED_URL, SAVED_URL]))
    const html = await (await fetch(`${service.baseUrl}${report.report_url}`)).text()
    expect(html).toContain(`href="${ADDED_URL}"`)
    expect(html).toContain(`href="${SAVED_URL}"`)
    expect(html).toContain('добавлен вручную')

    // The report's PDF and a share link from the same screen.
    expect(await page.locator('#pdf-link').getAttribute('href')).toBe(`/api/reports/${report.report_id}?format=pdf&download`)
    await page.getByRole('button', { name: 'Поделиться ссылкой' }).click()
    const shared = await page.locator('#share-url').inputValue({ timeout: STEP_TIMEOUT })
    expect((await fetch(shared)).status).toBe(200)
    await page.getByRole('button', { name: 'Отозвать ссылку' }).click()
    await expect.poll(() => page.locator('#share-result').textContent()).toMatch(/Ссылка отозвана/)
    expect((await fetch(shared)).status).toBe(404)
    await screenshot(page, 'wizard-manual-shared')
    expect(problems).toEqual([])
    await context.close()
  }, 240_000)
})
