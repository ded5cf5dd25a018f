import { accessSync, constants } from 'node:fs'
import type { Config } from './config.ts'
import type { Db } from './db/index.ts'
import { createBrowserPool, createFetcher, type BrowserPool } from './fetch/index.ts'
import type { Logger } from './log.ts'
import { createStores } from './store/index.ts'
import type { TaskServices } from './tasks/services.ts'

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The browser rung's pool, when the ladder may use it: FETCH_STRATEGIES naming browser needs Chromium (a clear
 * error otherwise); unset, the browser rung follows plain when Chromium is installed, and is left out, with one
 * line saying so, when it is not. Chromium itself starts on the first page that needs it.
 */
export function createBrowserPoolFor(config: Config, log?: Logger): BrowserPool | undefined {
  const { fetchStrategies } = config
  const named = [fetchStrategies.default ?? [], ...fetchStrategies.sites.map((site) => site.strategies)].some((ladder) => ladder.includes('browser'))
  const installed = isExecutable(config.browserExecutablePath)
  if (named && !installed) {
    throw new Error(`FETCH_STRATEGIES names browser, but ${config.browserExecutablePath} is not an executable Chromium (BROWSER_EXECUTABLE_PATH)`)
  }
  if (!installed) {
    log?.warn(`fetch strategies: plain only (no Chromium at ${config.browserExecutablePath}; install chromium or set BROWSER_EXECUTABLE_PATH for the browser rung)`)
    return undefined
  }
  if (fetchStrategies.default && !named) return undefined
  return createBrowserPool({
    executablePath: config.browserExecutablePath,
    poolSize: config.browserPoolSize,
    contextMaxPages: config.browserContextMaxPages,
    contextMaxAgeMs: config.browserContextMaxAgeSeconds * 1000,
    restartAfterPages: config.browserRestartAfterPages,
    log,
  })
}

/** Builds the services task handlers use: the safe fetcher (with its browser pool) and the Postgres stores. */
export function createTaskServices(config: Config, db: Db, log?: Logger): TaskServices & { close(): Promise<void> } {
  const browserPool = createBrowserPoolFor(config, log)
  const fetcher = createFetcher(config, { browserPool, log })
  if (log) {
    const ladder = fetcher.strategiesFor(new URL('https://www.cian.ru/'))
    log.info({ strategies: ladder, proxies: fetcher.proxyHealth().map((p) => p.proxy) }, 'fetch ladder ready')
  }
  return { config, fetcher, ...createStores(db.db), close: async () => browserPool?.close() }
}
