/**
 * @module Report PDFs: the report's own HTML printed to A4 by headless Chromium (playwright-core).
 * The HTML is built from listing data, so it is rendered with JavaScript off and every network
 * request refused: a page can neither run code nor call out. Chromium embeds the fonts it used.
 */
import type { Browser } from 'playwright-core'
import { HEADLESS_CHROMIUM_FLAGS } from '../chromium-flags.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'

/** A browser left idle this long is closed (a report PDF is an occasional request). */
const IDLE_CLOSE_MS = 60_000
/** Renders at once per process; more wait their turn (each holds a Chromium page in memory). */
const MAX_PARALLEL = 2
const RENDER_TIMEOUT_MS = 30_000

export type PdfRenderer = {
  render(html: string): Promise<Buffer>
  close(): Promise<void>
}

export function createPdfRenderer(options: { executablePath: string; log: Logger }): PdfRenderer {
  let browser: Promise<Browser> | undefined
  let idleTimer: NodeJS.Timeout | undefined
  let running = 0
  const waiting: Array<() => void> = []

  function launch(): Promise<Browser> {
    // playwright-core is loaded at the first PDF, as the browser rung loads it (browser-pool.ts): ~40 MB of every API's RSS.
    browser ??= import('playwright-core')
      .then(({ chromium }) => chromium.launch({ executablePath: options.executablePath, args: [...HEADLESS_CHROMIUM_FLAGS] }))
      .catch((e) => {
        browser = undefined
        throw new AppError('Internal', `Cannot start Chromium for PDF rendering (${options.executablePath}): ${coerceError(e).message}`, { cause: e })
      })
    return browser
  }

  async function closeBrowser() {
    const current = browser
    browser = undefined
    if (current) await (await current.catch(() => undefined))?.close().catch(() => {})
  }

  async function slot(): Promise<() => void> {
    if (running >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    clearTimeout(idleTimer)
    return () => {
      running--
      waiting.shift()?.()
      if (running === 0) {
        idleTimer = setTimeout(() => void closeBrowser(), IDLE_CLOSE_MS)
        idleTimer.unref()
      }
    }
  }

  return {
    async render(html) {
      const release = await slot()
      try {
        const context = await (await launch()).newContext({ javaScriptEnabled: false, offline: true })
        try {
          // Data-derived HTML: nothing it references is fetched (its chart and styles are inline).
          await context.route('**/*', (route) => route.abort())
          const page = await context.newPage()
          page.setDefaultTimeout(RENDER_TIMEOUT_MS)
          // Paper cannot be clicked: collapsed sections («Как считали») are printed open.
          await page.setContent(html.replace(/<details(?![^>]*\bopen\b)/g, '<details open'), { waitUntil: 'load' })
          await page.emulateMedia({ media: 'print' })
          return await page.pdf({ format: 'A4', printBackground: true, margin: { top: '15mm', bottom: '15mm', left: '12mm', right: '12mm' } })
        } finally {
          await context.close().catch(() => {})
        }
      } catch (e) {
        const err = coerceError(e)
        options.log.error({ err: err.message }, 'PDF rendering failed')
        // A browser that crashed is started afresh next time.
        await closeBrowser()
        throw err
      } finally {
        release()
      }
    },
    async close() {
      clearTimeout(idleTimer)
      await closeBrowser()
    },
  }
}
