import net, { type AddressInfo, type Server } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { HEADLESS_CHROMIUM_FLAGS } from '../chromium-flags.ts'
import { coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { BROWSER_HEADERS } from './headers.ts'

export type BrowserPoolOptions = {
  executablePath: string
  /** Warm contexts kept, and pages open at once. */
  poolSize: number
  contextMaxPages: number
  contextMaxAgeMs: number
  /** Chromium is relaunched after this many pages. */
  restartAfterPages: number
  log?: Logger
}

export type BrowserPoolStats = { launches: number; pagesServed: number; contextsOpen: number; busy: number; waiting: number }

export type BrowserPool = {
  /** Runs `use` on a fresh page of a warm context; the page is closed afterwards, the context recycled by use and age. */
  withPage<T>(use: (page: Page) => Promise<T>, signal?: AbortSignal): Promise<T>
  stats(): BrowserPoolStats
  /** The Chromium main process id, when running (the benchmark reads its tree's RSS). */
  pid(): number | undefined
  close(): Promise<void>
}

export const BROWSER_FLAGS = [
  ...HEADLESS_CHROMIUM_FLAGS,
  '--disable-blink-features=AutomationControlled',
  // Images are never needed for a listing's text; not requesting them spares a protocol round trip each.
  '--blink-settings=imagesEnabled=false',
  // WebRTC could otherwise send UDP where it likes; with this it only goes through the (black-hole) proxy.
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
]

// Pages report themselves as a normal browser: sites serve headless or automated ones their challenge for good.
const STEALTH_SCRIPT = `Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => undefined })`

type Generation = { browser: Browser; pages: number; active: number; retiring: boolean; closed: Promise<void> | undefined }
type Slot = { context: BrowserContext; generation: Generation; pages: number; createdAtMs: number }

/**
 * Every socket Chromium tries to open on its own (preconnect, WebSocket, a TURN relay) goes to this proxy, which
 * hangs up at once: the page's requests are all answered by Node through route(), so Chromium needs no network.
 */
async function startBlackHole(): Promise<Server> {
  const server = net.createServer((socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  server.unref()
  return server
}

export function createBrowserPool(options: BrowserPoolOptions): BrowserPool {
  const idle: Slot[] = []
  const waiters: Array<() => void> = []
  let busy = 0
  let launches = 0
  let pagesServed = 0
  let current: Promise<Generation> | undefined
  let blackHole: Promise<Server> | undefined
  let closing = false
  let lastPid: number | undefined
  const generations = new Set<Generation>()

  async function launch(): Promise<Generation> {
    const { chromium } = await import('playwright-core')
    blackHole ??= startBlackHole()
    const hole = await blackHole
    const browser = await chromium.launch({
      executablePath: options.executablePath,
      args: BROWSER_FLAGS,
      // "<-loopback>" removes Chromium's implicit proxy bypass for localhost, so nothing skips the black hole.
      proxy: { server: `http://127.0.0.1:${(hole.address() as AddressInfo).port}`, bypass: '<-loopback>' },
    })
    launches++
    const gen: Generation = { browser, pages: 0, active: 0, retiring: false, closed: undefined }
    generations.add(gen)
    lastPid = (browser as unknown as { process?: () => { pid?: number } }).process?.()?.pid
    options.log?.info({ launches }, 'browser launched')
    return gen
  }

  async function generation(): Promise<Generation> {
    current ??= launch().catch((e) => {
      current = undefined
      throw e
    })
    const gen = await current
    if (gen.browser.isConnected()) return gen
    current = undefined
    return generation()
  }

  function retireIfDone(gen: Generation): void {
    if (!gen.retiring || gen.active > 0 || gen.closed) return
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.generation === gen) idle.splice(i, 1)
    generations.delete(gen)
    gen.closed = gen.browser.close().catch((e) => options.log?.warn({ err: coerceError(e).message }, 'browser close failed'))
  }

  async function newSlot(): Promise<Slot> {
    const gen = await generation()
    const context = await gen.browser.newContext({
      userAgent: BROWSER_HEADERS['user-agent'],
      locale: 'ru-RU',
      timezoneId: 'Europe/Moscow',
      viewport: { width: 1366, height: 768 },
      serviceWorkers: 'block',
      acceptDownloads: false,
    })
    await context.addInitScript(STEALTH_SCRIPT)
    return { context, generation: gen, pages: 0, createdAtMs: Date.now() }
  }

  function isFresh(slot: Slot): boolean {
    return (
      !slot.generation.retiring &&
      slot.generation.browser.isConnected() &&
      slot.pages < options.contextMaxPages &&
      Date.now() - slot.createdAtMs < options.contextMaxAgeMs
    )
  }

  async function acquire(signal?: AbortSignal): Promise<Slot> {
    while (busy >= options.poolSize) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const index = waiters.indexOf(wake)
          if (index >= 0) waiters.splice(index, 1)
          reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'))
        }
        const wake = () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        waiters.push(wake)
      })
    }
    busy++
    try {
      for (let slot = idle.pop(); slot; slot = idle.pop()) {
        if (isFresh(slot)) return claim(slot)
        void slot.context.close().catch(() => {})
      }
      return claim(await newSlot())
    } catch (e) {
      release()
      throw e
    }
  }

  function claim(slot: Slot): Slot {
    slot.generation.active++
    return slot
  }

  function release(): void {
    busy--
    waiters.shift()?.()
  }

  function giveBack(slot: Slot, healthy: boolean): void {
    const gen = slot.generation
    gen.active--
    slot.pages++
    gen.pages++
    pagesServed++
    if (gen.pages >= options.restartAfterPages && !gen.retiring) {
      gen.retiring = true
      if (current) current = undefined
      options.log?.info({ pages: gen.pages }, 'browser restarting after its page budget')
    }
    if (healthy && isFresh(slot) && !closing) idle.push(slot)
    else void slot.context.close().catch(() => {})
    retireIfDone(gen)
    release()
  }

  return {
    async withPage(use, signal) {
      if (closing) throw new Error('browser pool is closed')
      const slot = await acquire(signal)
      let healthy = true
      let page: Page | undefined
      try {
        page = await slot.context.newPage()
        return await use(page)
      } catch (e) {
        healthy = slot.generation.browser.isConnected()
        throw e
      } finally {
        if (page) {
          // A page stuck in a script loop may not close politely; then its context goes with it.
          const closed = await Promise.race([
            page.close({ runBeforeUnload: false }).then(() => true, () => false),
            new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref()),
          ])
          if (!closed) healthy = false
        }
        giveBack(slot, healthy)
      }
    },
    stats: () => ({ launches, pagesServed, contextsOpen: idle.length + busy, busy, waiting: waiters.length }),
    pid: () => lastPid,
    async close() {
      closing = true
      if (current) await current.catch(() => undefined)
      current = undefined
      await Promise.all(idle.splice(0).map((slot) => slot.context.close().catch(() => {})))
      await Promise.all([...generations].map((gen) => gen.closed ?? gen.browser.close().catch(() => {})))
      generations.clear()
      const hole = blackHole ? await blackHole : undefined
      await new Promise<void>((resolve) => (hole ? hole.close(() => resolve()) : resolve()))
    },
  }
}
