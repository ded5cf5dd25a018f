import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { HEADLESS_CHROMIUM_FLAGS } from '../../src/chromium-flags.ts'

/** Screenshots the browser tests write, to be looked at (git-ignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts')


export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true })
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...HEADLESS_CHROMIUM_FLAGS, ...extraArgs] })
}

/** A page in a fresh profile and what went wrong in it: script errors, console errors, HTTP answers ≥ 400. */
export type WatchedPage = { page: Page; context: BrowserContext; problems: string[]; failures: string[] }

/** Opens the wizard at `url` in a fresh ru-RU profile `width` px wide (a phone's height below 600 px), watching it. */
export async function openWizard(browser: Browser, url: string, options: { width?: number; timezoneId?: string } = {}): Promise<WatchedPage> {
  const width = options.width ?? 1280
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, locale: 'ru-RU', timezoneId: options.timezoneId })
  const page = await context.newPage()
  const problems: string[] = []
  const failures: string[] = []
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    // The listings' own photos live on the internet, which tests never reach.
    if (m.type() === 'error' && !/ERR_NAME_NOT_RESOLVED/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`${r.status()} ${new URL(r.url()).pathname}`)
  })
  await page.goto(url)
  await page.waitForSelector('#step-1:not([hidden])')
  return { page, context, problems, failures }
}

/** A full-page screenshot in ARTIFACTS. */
export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
}
