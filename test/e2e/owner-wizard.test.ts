import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../src/services.ts'
import { createStores } from '../../src/store/index.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { ARTIFACTS, launchChromium, openWizard, screenshot } from '../helpers/browser.ts'
import { builtRentals, rentalUrl, TYUMEN } from '../helpers/built-pages.ts'
import { startFixtureServer } from '../helpers/fixture-server.ts'
import { TARGET_URL } from '../helpers/listings.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

const STEP_TIMEOUT = 45_000
const BLOCKED_URL = 'https://spb.cian.ru/sale/flat/1/'
const GONE_URL = 'https://spb.cian.ru/sale/flat/404404/'

let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>
let browser: Browser

beforeAll(async () => {
  site = await startFixtureServer({
    '/rent/flat/331090051/': 'cian-offer-331090051.html',
    '/sale/flat/315831388/': 'cian-offer-315831388.html',
    '/sale/flat/1/': 'cian-captcha-2024.html',
    // Every cian search answers with the saved Moscow rent search page.
    '/cat.php': 'cian-serp-rent-moscow-2023.html',
  })
  const rewrite = ['tyumen', 'spb', 'www'].map((sub) => `https://${sub}.cian.ru=${site.origin}`).join(',')
  service = await startTestService({ tasks: TASKS, deps: createTaskServices, domain: true, env: { FETCH_REWRITE: rewrite, FETCH_RETRIES: '0', RATE_LIMIT_PER_MINUTE: '0' } })
  await createStores(service.db.db).listings.upsert(builtRentals(TYUMEN))
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await service?.close()
  await site?.close()
})

const open = (width: number) => openWizard(browser, `${service.baseUrl}/`, { width, timezoneId: 'Asia/Yekaterinburg' })

const shot = (page: Page, name: string) => screenshot(page, `owner-${name}`)
const text = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim()

async function noPageOverflow(page: Page) {
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true)
}

async function submit(page: Page, url: string) {
  await page.getByRole('textbox', { name: 'Ссылка на объявление' }).fill(url)
  await page.getByRole('button', { name: 'Оценить' }).click()
}

async function findAnalogs(page: Page, strategy: string, fromObject = true) {
  if (fromObject) {
    await page.getByRole('button', { name: 'Далее: аналоги' }).click()
    await page.waitForSelector('#step-3:not([hidden])')
  }
  await page.getByLabel('Где искать похожие квартиры').selectOption(strategy)
  await page.getByRole('button', { name: 'Найти аналоги' }).click()
  await page.waitForFunction(() => (globalThis as any).housler.state.comparables !== null && !(globalThis as any).housler.state.job, null, { timeout: STEP_TIMEOUT })
}

describe('the owner in chromium', () => {
  it('a Tyumen rental reaches a rental report, at 1280 px and on a 390 px phone', async () => {
    const { page, context, problems } = await open(1280)
    await submit(page, rentalUrl(TYUMEN))
    await page.waitForSelector('#step-2:not([hidden])', { timeout: STEP_TIMEOUT })
    expect(text(await page.locator('#property .price').textContent())).toBe('28 000 ₽/мес')
    // What the listing says is a value in the form, not a grey placeholder.
    const floors = page.getByLabel(/Этажей в доме/)
    expect(await floors.inputValue()).not.toBe('')
    await shot(page, 'tyumen-2-object-1280')

    await findAnalogs(page, 'citywide')
    const rows = page.locator('#analogs tbody tr')
    expect(await rows.count()).toBeGreaterThanOrEqual(5)
    expect(text(await rows.first().locator('a').textContent())).toMatch(/^1-комн\., [\d,]+ м², \d+\/10 эт\., Тюмень, ул\. Ленина, \d+$/)
    expect(text(await rows.first().locator('td[data-label=Цена]').textContent())).toMatch(/₽\/мес$/)
    expect(await page.locator('#to-report').isVisible()).toBe(true)
    await shot(page, 'tyumen-3-analogs-1280')

    await page.getByRole('button', { name: 'Далее: отчёт' }).click()
    await page.waitForFunction(() => /\d/.test(document.getElementById('fair-price')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT })
    expect(text(await page.locator('#fair-price').textContent())).toMatch(/^[\d ]+ ₽\/мес$/)
    expect(text(await page.locator('#step-4').textContent())).not.toContain('Быстрая продажа')
    expect(text(await page.locator('#confidence').textContent())).toMatch(/^Надёжность оценки: \d+ из 100 — (высокая|средняя|низкая)$/)
    const frame = page.frameLocator('iframe.report-frame')
    await frame.locator('svg').first().waitFor({ timeout: STEP_TIMEOUT })
    const report = text(await frame.locator('body').textContent())
    expect(report).toContain('Оценка аренды')
    expect(report).toContain('Такие квартиры сейчас сдаются')
    expect(report).not.toMatch(/Быстрая продажа|продать быстро/)
    expect(report).toContain('Ваша квартира')
    await shot(page, 'tyumen-4-report-1280')
    await noPageOverflow(page)

    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.waitForSelector('#step-4:not([hidden])')
    await page.frameLocator('iframe.report-frame').locator('svg').first().waitFor({ timeout: STEP_TIMEOUT })
    await shot(page, 'tyumen-4-report-390')
    await noPageOverflow(page)
    // Inside the report itself: its tables scroll in their own box, the page does not.
    const inner = page.frames().find((f) => f.url().includes('/api/reports/'))!
    expect(await inner.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true)
    // The report document itself on the phone: page fits, tables scroll in their box, cards stay short.
    const reportPage = await context.newPage()
    await reportPage.setViewportSize({ width: 390, height: 844 })
    await reportPage.goto(inner.url())
    await noPageOverflow(reportPage)
    await reportPage.locator('svg').screenshot({ path: path.join(ARTIFACTS, 'owner-tyumen-report-chart-390.png') })
    await reportPage.locator('table.analogs').screenshot({ path: path.join(ARTIFACTS, 'owner-tyumen-report-analogs-390.png') })
    const scrollBox = await reportPage.locator('table.analogs').evaluate((t) => ({ box: t.parentElement!.clientWidth, table: t.scrollWidth, overflow: getComputedStyle(t.parentElement!).overflowX }))
    expect(scrollBox.overflow).toBe('auto')
    for (const h of await reportPage.locator('table.analogs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect().height))) expect(h).toBeLessThanOrEqual(844 / 2)
    // Chart labels stay legible: rendered at 10 px or more.
    const smallest = await reportPage.locator('svg').evaluate((svg) => Math.min(...[...svg.querySelectorAll('text')].map((t) => t.getBoundingClientRect().height)))
    expect(smallest).toBeGreaterThanOrEqual(10)
    await reportPage.close()

    await page.locator('#steps button[data-goto="3"]').click()
    await page.waitForSelector('#step-3:not([hidden])')
    await noPageOverflow(page)
    const cardHeights = await page.locator('#analogs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect().height))
    for (const h of cardHeights) expect(h).toBeLessThanOrEqual(844 / 2)
    await shot(page, 'tyumen-3-analogs-390')

    // A new URL that fails keeps the session the owner had.
    const before = await page.evaluate(() => (globalThis as any).housler.state)
    await page.locator('#steps button[data-goto="1"]').click()
    await submit(page, GONE_URL)
    await page.waitForFunction(() => document.getElementById('alert-title')?.textContent === 'Объявление не найдено', null, { timeout: STEP_TIMEOUT })
    expect(await page.locator('#alert-retry').isVisible()).toBe(false)
    const after = await page.evaluate(() => (globalThis as any).housler.state)
    expect(after.sessionId).toBe(before.sessionId)
    expect(after.target.url).toBe(before.target.url)
    expect(after.report.report_id).toBe(before.report.report_id)
    expect(problems).toEqual([])
    await context.close()
  }, 180_000)

  it('a Saint Petersburg sale whose search finds only Moscow rentals shows the server reasons and no report button', async () => {
    const { page, context, problems } = await open(1280)
    await submit(page, TARGET_URL)
    await page.waitForSelector('#step-2:not([hidden])', { timeout: STEP_TIMEOUT })
    expect(text(await page.locator('#property').textContent())).toContain('новостройка')
    // A narrow search that finds nothing offers the next wider one.
    await findAnalogs(page, 'same_building')
    expect(text(await page.locator('#search-wider').textContent())).toBe('Искать шире: рядом')
    expect(text(await page.locator('#search-reasons').textContent())).toMatch(/^Поиск в том же доме не запускали: .+\.$/)
    await shot(page, 'spb-same-building-1280')
    await findAnalogs(page, 'citywide', false)
    // The earlier result is on screen until the new one replaces it: wait for the citywide answer.
    await page.waitForSelector('#no-wider', { timeout: STEP_TIMEOUT })
    const reasons = text(await page.locator('#search-reasons').textContent())
    expect(reasons).toMatch(/Нашли \d+ объявлени[а-я]*, но все — аренда в Москве\./)
    expect(await page.locator('#to-report').isVisible()).toBe(false)
    expect(await page.locator('#search-wider').count()).toBe(0)
    expect(text(await page.locator('#no-wider').textContent())).toContain('по всему городу')
    expect(await page.locator('#steps button[data-goto="4"]').isDisabled()).toBe(true)
    const body = text(await page.locator('main').textContent())
    expect(body).not.toMatch(/citywide|auto\b|other_region|same_building/)
    await shot(page, 'spb-zero-analogs-1280')
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, 'spb-zero-analogs-390')
    await noPageOverflow(page)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('shows a captcha retry the server scheduled as a time, keeps polling, and cancels on request; a first visit has no 404s', async () => {
    const { page, context, problems, failures } = await open(390)
    expect(failures).toEqual([])
    await submit(page, BLOCKED_URL)
    await page.waitForFunction(() => /Повторим автоматически в \d\d:\d\d/.test(document.getElementById('progress-msg')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT })
    const jobId = await page.evaluate(() => (globalThis as any).housler.state.job.id)
    const status = await (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
    expect(status.status).toBe('scheduled')
    const expected = await page.evaluate((at) => new Intl.DateTimeFormat('ru-RU', { hour: '2-digit', minute: '2-digit' }).format(new Date(at)), status.next_attempt_at)
    const message = text(await page.locator('#progress-msg').textContent())
    expect(message).toContain(`Повторим автоматически в ${expected}`)
    expect(message).toContain('«я не робот»')
    expect(await page.locator('#alert').isVisible()).toBe(false)
    expect(text(await page.locator('#progress-elapsed').textContent())).toMatch(/^Прошло \d+:\d\d$/)
    await shot(page, 'captcha-countdown-390')
    await noPageOverflow(page)

    await page.getByRole('button', { name: 'Отменить' }).click()
    await page.waitForFunction(() => document.getElementById('alert-title')?.textContent === 'Отменено', null, { timeout: STEP_TIMEOUT })
    expect(await page.locator('#progress').isVisible()).toBe(false)
    const canceled = await (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
    expect(canceled.status).toBe('canceled')
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)
})
