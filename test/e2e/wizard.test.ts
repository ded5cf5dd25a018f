import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStores } from '../../src/store/index.ts'
import { createTaskServices } from '../../src/services.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { launchChromium, openWizard, screenshot } from '../helpers/browser.ts'
import { startFixtureServer } from '../helpers/fixture-server.ts'
import { spbAnalog, TARGET_URL } from '../helpers/listings.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

const BLOCKED_URL = 'https://spb.cian.ru/sale/flat/1/'
const STEP_TIMEOUT = 30_000

// The guide's "Frontend интеграция" snippet, character for character: the contract for existing front ends.
const GUIDE_SNIPPET = `async function parsePropertyAsync(url, sessionId) {
    // Ставим задачу в очередь
    const response = await fetch('/api/tasks/parse', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ url, session_id: sessionId })
    });

    const { job_id } = await response.json();

    // Опрашиваем статус каждые 2 секунды
    return new Promise((resolve, reject) => {
        const pollInterval = setInterval(async () => {
            const statusResponse = await fetch(\`/api/tasks/status/\${job_id}\`);
            const status = await statusResponse.json();

            // Обновляем UI прогресс
            if (status.progress) {
                pixelLoader.updateProgress(status.progress);
                pixelLoader.showMessage(status.message || 'Обработка...');
            }

            // Проверяем завершение
            if (status.status === 'finished') {
                clearInterval(pollInterval);
                resolve(status.result);
            } else if (status.status === 'failed') {
                clearInterval(pollInterval);
                reject(new Error(status.error));
            }
        }, 2000);
    });
}`


let service: TestService
let site: Awaited<ReturnType<typeof startFixtureServer>>
let browser: Browser

beforeAll(async () => {
  site = await startFixtureServer({
    '/sale/flat/315831388/': 'cian-offer-315831388.html',
    '/sale/flat/1/': 'cian-captcha-2024.html',
  })
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    env: { FETCH_REWRITE: `https://spb.cian.ru=${site.origin},https://www.cian.ru=${site.origin}`, FETCH_RETRIES: '0' },
  })
  await createStores(service.db.db).listings.upsert(Array.from({ length: 8 }, (_, i) => spbAnalog(i)))
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await service?.close()
  await site?.close()
})

const open = (width: number, query = '?source=store') => openWizard(browser, `${service.baseUrl}/${query}`, { width })

const shot = (page: Page, name: string) => screenshot(page, `wizard-${name}`)

/** Nothing the wizard shows may stick out sideways: the page never scrolls horizontally. */
async function expectNoHorizontalOverflow(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  expect(overflow).toBeLessThanOrEqual(0)
}

const digits = (text: string | null) => (text ?? '').replace(/\D/g, '')

async function submitTarget(page: Page, url = TARGET_URL) {
  await page.getByRole('textbox', { name: 'Ссылка на объявление' }).fill(url)
  await page.getByRole('button', { name: 'Оценить' }).click()
}

describe('static files', () => {
  it('serves the wizard with its security headers and keeps API misses JSON', async () => {
    const index = await fetch(`${service.baseUrl}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toContain('text/html')
    expect(index.headers.get('content-security-policy')).toBe(
      "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    )
    expect(index.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await index.text()).toContain('lang="ru"')
    expect((await fetch(`${service.baseUrl}/app.js`)).headers.get('content-type')).toContain('text/javascript')
    expect((await fetch(`${service.baseUrl}/styles.css`)).headers.get('content-type')).toContain('text/css')
    const miss = await fetch(`${service.baseUrl}/api/nothing-here`)
    expect(miss.status).toBe(404)
    expect(await miss.json()).toMatchObject({ error: 'Not found' })
    for (const probe of ['/%2e%2e/package.json', '/..%2fpackage.json', '/.gitignore', '/nope.js']) {
      expect((await fetch(`${service.baseUrl}${probe}`)).status, probe).toBe(404)
    }
  })
})

describe('the wizard in chromium', () => {
  it('goes from a pasted cian link to a report on screen, at 1280 px and then 390 px', async () => {
    const { page, context, problems } = await open(1280)
    await shot(page, '1-link-1280')
    // Every message the progress panel shows while visible, recorded in the page as it changes.
    await page.evaluate(() => {
      const shown: string[] = ((window as unknown as { shownProgress: string[] }).shownProgress = [])
      const panel = document.getElementById('progress')!
      new MutationObserver(() => {
        const message = document.getElementById('progress-msg')!.textContent ?? ''
        if (!panel.hidden && shown.at(-1) !== message) shown.push(message)
      }).observe(panel, { attributes: true, childList: true, characterData: true, subtree: true })
    })
    await submitTarget(page)

    await page.waitForSelector('#step-2:not([hidden])', { timeout: STEP_TIMEOUT })
    expect(await page.evaluate(() => (window as unknown as { shownProgress: string[] }).shownProgress)).toContain('Загрузка страницы...')
    const card = page.locator('#property')
    expect(digits(await card.locator('.price').textContent())).toBe('78000000')
    await expect(card.textContent()).resolves.toContain('126,4 м²')
    expect(await page.locator('.unknown').count()).toBeGreaterThan(0)
    await page.getByLabel(/Высота потолков, м/).fill('2.9')
    await page.getByLabel(/^Ремонт/).selectOption('евроремонт')
    await shot(page, '2-object-1280')
    await expectNoHorizontalOverflow(page)

    await page.getByRole('button', { name: 'Далее: аналоги' }).click()
    await page.waitForSelector('#step-3:not([hidden])')
    await page.getByLabel('Где искать похожие квартиры').selectOption('auto')
    await page.getByRole('button', { name: 'Найти аналоги' }).click()
    await page.waitForSelector('#analogs tbody tr', { timeout: STEP_TIMEOUT })
    const rows = page.locator('#analogs tbody tr')
    expect(await rows.count()).toBeGreaterThanOrEqual(5)
    // Sorting by price per m² ascending puts the cheapest analog first.
    await page.getByRole('button', { name: /₽ за м²/ }).click()
    const header = page.locator('th[aria-sort="ascending"]')
    await expect(header.textContent()).resolves.toContain('₽ за м²')
    const perSqm = await page.locator('#analogs tbody tr td:nth-child(4)').allTextContents()
    const values = perSqm.map((t) => Number(digits(t)))
    expect(values).toEqual([...values].sort((a, b) => a - b))
    expect(await rows.first().locator('a').getAttribute('href')).toMatch(/^https:\/\/spb\.cian\.ru\/sale\/flat\//)
    // Exclude the most expensive analog.
    const excludedHref = await rows.last().locator('a').getAttribute('href')
    await rows.last().getByRole('checkbox').uncheck()
    await expect(page.locator('#analogs-title').textContent()).resolves.toMatch(/В расчёте: \d+/)
    await shot(page, '3-analogs-1280')
    await expectNoHorizontalOverflow(page)
    // At desktop width the whole table fits: no column hides behind a sideways scroll.
    const tableOverflow = await page.locator('.table-wrap').evaluate((el) => el.scrollWidth - el.clientWidth)
    expect(tableOverflow).toBeLessThanOrEqual(0)

    await page.getByRole('button', { name: 'Далее: отчёт' }).click()
    await page.waitForFunction(() => /\d/.test(document.getElementById('fair-price')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT })
    expect(Number(digits(await page.locator('#fair-price').textContent()))).toBeGreaterThan(10_000_000)
    await expect(page.locator('#verdict').textContent()).resolves.toMatch(/Цена|рынк/)
    const htmlLink = page.getByRole('link', { name: 'Скачать отчёт (HTML)' })
    const mdLink = page.getByRole('link', { name: 'Скачать отчёт (Markdown)' })
    const reportHtml = await (await fetch(service.baseUrl + (await htmlLink.getAttribute('href')))).text()
    expect(reportHtml).toContain('<svg')
    const md = await fetch(service.baseUrl + (await mdLink.getAttribute('href')))
    expect(md.headers.get('content-type')).toContain('text/markdown')
    // The report shown in the page carries its chart.
    const frame = page.frameLocator('iframe.report-frame')
    await frame.locator('svg').first().waitFor({ timeout: STEP_TIMEOUT })
    // What the user excluded did not go into the valuation.
    const state = await page.evaluate(() => (globalThis as any).housler.state)
    expect(state.excluded).toEqual([excludedHref])
    expect(state.report.valuation.used_urls ?? []).not.toContain(excludedHref)
    await shot(page, '4-report-1280')
    await expectNoHorizontalOverflow(page)

    // The same profile on a phone: a reload resumes at the report; every step fits at 390 px.
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.waitForSelector('#step-4:not([hidden])')
    await page.waitForFunction(() => /\d/.test(document.getElementById('fair-price')?.textContent ?? ''))
    await shot(page, '4-report-390')
    await expectNoHorizontalOverflow(page)
    for (const [step, name] of [[1, '1-link-390'], [2, '2-object-390'], [3, '3-analogs-390']] as const) {
      await page.locator(`#steps button[data-goto="${step}"]`).click()
      await page.waitForSelector(`#step-${step}:not([hidden])`)
      await shot(page, name)
      await expectNoHorizontalOverflow(page)
    }
    expect(problems).toEqual([])
    await context.close()
  })

  it('explains an invalid link before sending anything', async () => {
    const { page, context } = await open(390)
    const before = (await service.queue.monitoring.stats({ fresh: true })).queued_jobs
    await submitTarget(page, 'не ссылка')
    await expect(page.locator('#url-error').textContent()).resolves.toContain('не похоже на ссылку')
    await expect(page.locator('#url').getAttribute('aria-invalid')).resolves.toBe('true')
    await submitTarget(page, 'https://example.com/sale/flat/1/')
    await expect(page.locator('#url-error').textContent()).resolves.toContain('example.com пока не поддерживается')
    await submitTarget(page, 'https://spb.cian.ru/')
    await expect(page.locator('#url-error').textContent()).resolves.toContain('конкретное объявление')
    await shot(page, 'error-invalid-url-390')
    expect((await service.queue.monitoring.stats({ fresh: true })).queued_jobs).toBe(before)
    await context.close()
  })

  it('tells the person the site blocked us and offers a retry', async () => {
    const { page, context } = await open(1280)
    await submitTarget(page, BLOCKED_URL)
    // While the server retries by itself the page says when; once its attempts are used up, the alert.
    await page.waitForFunction(() => /Повторим автоматически в \d\d:\d\d/.test(document.getElementById('progress-msg')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT })
    const alert = page.getByRole('alert')
    await alert.waitFor({ timeout: 120_000 })
    await expect(alert.textContent()).resolves.toContain('временно ограничил доступ')
    await expect(alert.textContent()).resolves.toContain('Попробуйте позже')
    expect(await page.getByRole('button', { name: 'Повторить' }).isVisible()).toBe(true)
    await shot(page, 'error-blocked-1280')
    await context.close()
  }, 180_000)

  it('resumes after a reload: mid-job from the stored job id, and from the server session alone', async () => {
    const { page, context } = await open(1280)
    await submitTarget(page)
    await page.waitForSelector('#step-2:not([hidden])', { timeout: STEP_TIMEOUT })
    await page.getByRole('button', { name: 'Далее: аналоги' }).click()
    await page.getByRole('button', { name: 'Найти аналоги' }).click()
    // Reload while the find-similar job is in flight: the page picks the job up again.
    await page.waitForFunction(() => (globalThis as any).housler.state.job?.kind === 'similar')
    const jobId = await page.evaluate(() => (globalThis as any).housler.state.job.id)
    await page.reload()
    await page.waitForSelector('#analogs tbody tr', { timeout: STEP_TIMEOUT })
    const status = await (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
    expect(status.status).toBe('finished')
    expect(await page.locator('#analogs tbody tr').count()).toBe(status.result.comparables.length)

    // Lose everything local but the session id: the server's session restores the object and analogs.
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('housler.wizard.v1')!)
      localStorage.setItem('housler.wizard.v1', JSON.stringify({ sessionId: s.sessionId }))
    })
    await page.reload()
    await page.waitForSelector('#step-3:not([hidden]) #analogs tbody tr', { timeout: STEP_TIMEOUT })
    await page.locator('#steps button[data-goto="2"]').click()
    expect(digits(await page.locator('#property .price').textContent())).toBe('78000000')
    await context.close()
  })

  it("runs the guide's parsePropertyAsync snippet, unchanged, against the service", async () => {
    const { page, context } = await open(1280, '')
    const outcome = await page.evaluate(`(async () => {
      const seen = []
      const messages = []
      window.pixelLoader = { updateProgress: (p) => seen.push(p), showMessage: (m) => messages.push(m) }
      ${GUIDE_SNIPPET}
      const result = await parsePropertyAsync(${JSON.stringify(TARGET_URL)}, 'guide-session-1')
      const finishedSeen = seen.slice()
      let error = null
      try { await parsePropertyAsync(${JSON.stringify('https://spb.cian.ru/sale/flat/404404/')}, 'guide-session-2') } catch (e) { error = e.message }
      return { result, seen, finishedSeen, messages, error }
    })()`)
    const { result, seen, finishedSeen, messages, error } = outcome as any
    expect(result).toMatchObject({ success: true, session_id: 'guide-session-1', data: { offer_id: '315831388', price: 78000000 } })
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((p: number) => p > 0 && p <= 100)).toBe(true)
    // The finished job's last poll shows 100; the failed one stops where it failed.
    expect(finishedSeen.at(-1)).toBe(100)
    expect(messages.every((m: string) => typeof m === 'string' && m.length > 0)).toBe(true)
    expect(error).toEqual(expect.any(String))
    await context.close()
  }, 90_000)
}, 120_000)
