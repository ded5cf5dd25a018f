import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStores } from '../../src/store/index.ts'
import { createTaskServices } from '../../src/services.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { launchChromium, openWizard } from '../helpers/browser.ts'
import { readFixture, startFixtureServer } from '../helpers/fixture-server.ts'
import { spbAnalog, TARGET_URL } from '../helpers/listings.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

const STEP_TIMEOUT = 30_000
const LISTING_PATH = new URL(TARGET_URL).pathname

let service: TestService
let serverView: Awaited<ReturnType<typeof startFixtureServer>>
let browserView: { server: Server; port: number; requests: string[] }
let browser: Browser

/**
 * The listing site as the user's browser sees it: the real page, under a CSP whose connect-src
 * would stop any fetch to us (as listing sites' own policies do); /open/ serves it without one.
 */
async function startListingSite() {
  const requests: string[] = []
  const server = createServer((request, response) => {
    requests.push(request.url ?? '')
    const csp = request.url?.startsWith('/open/') ? {} : { 'content-security-policy': "default-src 'self' 'unsafe-inline' data: https:; connect-src 'self'" }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...csp }).end(readFixture('cian-offer-315831388.html'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, requests }
}

beforeAll(async () => {
  // The server is refused: every fetch of the listing gets the captcha page.
  serverView = await startFixtureServer({ [LISTING_PATH]: 'cian-captcha-2024.html' })
  browserView = await startListingSite()
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    env: { FETCH_REWRITE: `https://spb.cian.ru=${serverView.origin}`, FETCH_RETRIES: '0' },
  })
  await createStores(service.db.db).listings.upsert(Array.from({ length: 8 }, (_, i) => spbAnalog(i)))
  // spb.cian.ru and a foreign site both resolve to the local stand-ins.
  browser = await launchChromium(['--host-resolver-rules=MAP spb.cian.ru 127.0.0.1, MAP evil.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'])
})

afterAll(async () => {
  await browser?.close()
  await service?.close()
  await serverView?.close()
  await new Promise((resolve) => browserView?.server.close(resolve))
})

describe('the page from the user\'s own browser', () => {
  it('a blocked parse offers the bookmarklet; run on the listing tab it posts into this session and the wizard goes on to analogs', async () => {
    const { page: wizard, context, problems } = await openWizard(browser, `${service.baseUrl}/?source=store`)
    await wizard.getByRole('textbox', { name: 'Ссылка на объявление' }).fill(TARGET_URL)
    await wizard.getByRole('button', { name: 'Оценить' }).click()
    const bookmarklet = wizard.getByRole('link', { name: 'Отправить страницу в Housler' })
    await bookmarklet.waitFor({ timeout: STEP_TIMEOUT })
    expect(await wizard.locator('#intake-howto').textContent()).toContain('панель закладок')
    expect(await wizard.locator('#intake').getByLabel(/Ctrl\+S/).count()).toBe(1)
    const href = (await bookmarklet.getAttribute('href'))!
    expect(href.startsWith('javascript:')).toBe(true)
    const sessionId = await wizard.evaluate(() => (globalThis as any).housler.state.sessionId)
    expect(serverView.requests).toContain(LISTING_PATH)

    // The listing tab: the page opens for the user, and the bookmarklet runs in it.
    const listing = await context.newPage()
    const listingUrl = `http://spb.cian.ru:${browserView.port}${LISTING_PATH}`
    await listing.goto(listingUrl, { waitUntil: 'domcontentloaded' })
    const popup = context.waitForEvent('page')
    await listing.evaluate((code) => (0, eval)(code), decodeURIComponent(href.slice('javascript:'.length)))
    const answer = await popup
    await answer.waitForSelector('#intake-result')
    expect(await answer.locator('#intake-result').textContent()).toContain('Страница получена')

    await wizard.waitForSelector('#step-2:not([hidden])', { timeout: STEP_TIMEOUT })
    const target = await wizard.evaluate(() => (globalThis as any).housler.state.target)
    expect(target).toMatchObject({ offer_id: '315831388', price: 78_000_000, total_area: 126.4, rooms: 3 })
    const session = await (await fetch(`${service.baseUrl}/api/sessions/${sessionId}`)).json()
    expect(session.target_url).toBe(listingUrl)
    await wizard.getByRole('button', { name: 'Далее: аналоги' }).click()
    await wizard.getByRole('button', { name: 'Найти аналоги' }).click()
    await wizard.waitForSelector('#analogs tbody tr', { timeout: STEP_TIMEOUT })
    expect(await wizard.locator('#analogs tbody tr').count()).toBeGreaterThan(0)
    // The page came from the browser: the site saw only the user's own visit (the blocked fetch job may
    // still retry its captcha on its own schedule; html submissions never fetch, see the integration test).
    expect(browserView.requests.filter((r) => r === LISTING_PATH)).toHaveLength(1)
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('CORS lets a listing site\'s page read our answer, and someone else\'s session refuses the page', async () => {
    const issue = async (id: string) => (await (await fetch(`${service.baseUrl}/api/sessions/${id}/intake-token`, { method: 'POST' })).json()).token
    const mine = await issue('cors-mine')
    await issue('cors-theirs')
    const context = await browser.newContext()
    const page = await context.newPage()
    const post = (sessionId: string, token: string) =>
      page.evaluate(
        async ({ endpoint, body }) => {
          try {
            const r = await fetch(endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
            return { status: r.status, body: await r.json() }
          } catch (e) {
            return { error: String(e) }
          }
        },
        { endpoint: `${service.baseUrl}/api/intake`, body: { session_id: sessionId, token, url: TARGET_URL, html: '<html><body>x</body></html>' } },
      )
    await page.goto(`http://spb.cian.ru:${browserView.port}/open${LISTING_PATH}`, { waitUntil: 'domcontentloaded' })
    const refused = await post('cors-theirs', mine)
    expect(refused).toMatchObject({ status: 403 })
    const accepted = await post('cors-mine', mine)
    expect(accepted).toMatchObject({ status: 202, body: { status: 'queued' } })
    // A page on a site that is not a listing site cannot even read the answer.
    await page.goto(`http://evil.test:${browserView.port}/open${LISTING_PATH}`, { waitUntil: 'domcontentloaded' })
    expect(await post('cors-mine', mine)).toMatchObject({ error: expect.stringContaining('Failed to fetch') })
    await context.close()
  }, 60_000)
})
