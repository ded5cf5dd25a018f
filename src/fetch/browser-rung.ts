import type { Page, Route } from 'playwright-core'
import { AppError, coerceError } from '../errors.ts'
import type { BrowserPool } from './browser-pool.ts'
import { decodeBody } from './decode-body.ts'
import { abortReason, fetchFailed, type ExchangeResponse } from './http-exchange.ts'
import { checkListingUrl, listingSiteOf } from './url-policy.ts'

export type ResourceRequest = { url: URL; method: string; headers: Record<string, string>; body?: Buffer }

/**
 * Node's side of a browser request: the guarded exchange (FETCH_REWRITE, address check, proxy, limits). It follows
 * redirects itself, passing each Location through `check` first: Chromium does not route the requests of a redirect
 * it was handed, so it is never handed one.
 */
export type FetchResource = (
  request: ResourceRequest,
  options: { signal: AbortSignal; timeoutMs: number; check: (url: string) => URL },
) => Promise<ExchangeResponse & { url: URL }>

export type BrowserPage = { url: string; status: number; contentType: string; body: string }

export type BrowserRungOptions = {
  pool: BrowserPool
  fetchResource: FetchResource
  listingHosts: readonly string[]
  /** Budget for the whole page: navigation, subrequests, a challenge's reloads. */
  timeoutMs: number
  maxBytes: number
  maxRequests: number
}

/**
 * A blocked page that shows no new document for this long is taken as it is: a JavaScript challenge reloads within
 * seconds (Cloudflare's "Just a moment" in about five); a captcha waits for a human and never will.
 */
const CHALLENGE_PATIENCE_MS = 8000

/** How often a page that has not settled is read again when nothing else happened (scripts that rewrite it in place). */
const RECHECK_MS = 250

/** Resource types a listing's content can depend on; images, fonts, media, styles, frames and beacons are refused. */
const ALLOWED_TYPES: ReadonlySet<string> = new Set(['document', 'script', 'xhr', 'fetch'])

// Not forwarded either way: the connection's own framing, and what Node decoded already.
const HOP_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'proxy-authorization',
  'upgrade',
])

function forwardedHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_HEADERS.has(name.toLowerCase()) && !name.startsWith(':')))
}

function responseHeaders(response: ExchangeResponse): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || HOP_HEADERS.has(name) || name === 'location') continue
    out[name] = Array.isArray(value) ? value.join(name === 'set-cookie' ? '\n' : ', ') : value
  }
  return out
}

/**
 * Opens a listing page in headless Chromium. Chromium opens no socket of its own: every request is routed to Node,
 * which allows only the page's own listing site, checks it like any user URL and fetches it with the same guarded
 * exchange as the plain rung. `isSettled(page)` says when the content is the site's own (not a challenge still
 * reloading): the main document as served is asked first, then the DOM as the page's scripts left it; until one
 * settles, and within the time budget, the rung waits for the page's next document or change.
 */
export async function fetchInBrowser(
  siteUrl: URL,
  options: BrowserRungOptions,
  isSettled: (page: BrowserPage) => Promise<boolean>,
  signal?: AbortSignal,
): Promise<BrowserPage> {
  if (signal?.aborted) throw abortReason(signal)
  const site = listingSiteOf(siteUrl.hostname, options.listingHosts)
  const budget = new AbortController()
  // The budget starts with the page: a Chromium launch or a wait for a free context is not the site's time.
  let deadlineMs = Number.POSITIVE_INFINITY
  let timer: NodeJS.Timeout | undefined
  const startBudget = () => {
    deadlineMs = Date.now() + options.timeoutMs
    const timedOut = fetchFailed(`The browser did not get the page within ${options.timeoutMs} ms`, { retryable: true, reason: 'timeout' })
    timer = setTimeout(() => budget.abort(timedOut), options.timeoutMs)
  }
  const onAbort = () => budget.abort(abortReason(signal!))
  signal?.addEventListener('abort', onAbort, { once: true })
  const state = { requests: 0, bytes: 0, refused: 0, mainStatus: 0, mainContentType: '', mainBody: undefined as Buffer | undefined, mainUrl: siteUrl.href, mainError: undefined as Error | undefined, onMainRefused: () => {}, unrouted: false }

  /** The page may reach its own listing site only, under the same rules as a URL a user typed. */
  function onSite(url: string): URL {
    const target = checkListingUrl(url, { listingHosts: options.listingHosts })
    if (listingSiteOf(target.hostname, options.listingHosts) !== site) {
      throw new AppError('UrlRejected', `${target.hostname} is not ${site}`, { details: { reason: 'host-not-allowed', url: target.href } })
    }
    return target
  }

  async function handle(route: Route, page: Page): Promise<void> {
    const request = route.request()
    const isMain = request.isNavigationRequest() && request.frame() === page.mainFrame()
    const refuse = (error?: Error) => {
      state.refused++
      if (isMain && error) {
        state.mainError = error
        state.onMainRefused()
      }
      return route.abort('blockedbyclient').catch(() => {})
    }
    if (budget.signal.aborted) return refuse()
    if (!isMain && !ALLOWED_TYPES.has(request.resourceType())) return refuse()
    let target: URL
    try {
      target = onSite(request.url())
    } catch (e) {
      const err = coerceError(e)
      return refuse(isMain ? new AppError('UrlRejected', `Navigation refused: ${err.message}`, { cause: err, details: (err as AppError).details }) : undefined)
    }
    if (++state.requests > options.maxRequests) {
      // Past the cap, answering each request over the protocol would itself be the flood: unrouted, the rest go
      // to the black-hole proxy and fail at once, with no round trip through Node.
      if (!state.unrouted) {
        state.unrouted = true
        void page.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {})
      }
      return refuse()
    }
    try {
      const response = await options.fetchResource(
        { url: target, method: request.method(), headers: forwardedHeaders(await request.allHeaders()), body: request.postDataBuffer() ?? undefined },
        { signal: budget.signal, timeoutMs: Math.max(1, deadlineMs - Date.now()), check: onSite },
      )
      state.bytes += response.body.length
      if (state.bytes > options.maxBytes) {
        throw fetchFailed(`The page's requests exceed ${options.maxBytes} bytes`, { reason: 'too-large', limitBytes: options.maxBytes })
      }
      if (isMain) {
        state.mainStatus = response.status
        state.mainContentType = String(response.headers['content-type'] ?? '')
        state.mainBody = response.body
        state.mainUrl = response.url.href
      }
      await route.fulfill({ status: response.status, headers: responseHeaders(response), body: response.body })
    } catch (e) {
      await refuse(coerceError(e))
    }
  }

  try {
    return await options.pool.withPage(async (page) => {
      startBudget()
      budget.signal.addEventListener('abort', () => void page.close({ runBeforeUnload: false }).catch(() => {}), { once: true })
      await page.route('**/*', (route) => handle(route, page))
      let documents = 0
      let wake: (() => void) | undefined
      const notify = () => wake?.()
      page.on('domcontentloaded', () => {
        documents++
        notify()
      })
      // A new document, a refused navigation, the budget's end, or a re-read tick for pages that change in place.
      const nextChange = (after: number) =>
        new Promise<void>((resolve) => {
          if (documents > after || state.mainError || budget.signal.aborted) return resolve()
          const tick = setTimeout(resolve, RECHECK_MS)
          wake = () => {
            clearTimeout(tick)
            resolve()
          }
          budget.signal.addEventListener('abort', wake, { once: true })
        })
      const failure = () => (budget.signal.aborted ? coerceError(budget.signal.reason) : undefined)

      const navigationRefused = new Promise<void>((resolve) => {
        state.onMainRefused = () => {
          notify()
          resolve()
        }
      })
      try {
        await Promise.race([page.goto(siteUrl.href, { waitUntil: 'domcontentloaded', timeout: Math.max(1, deadlineMs - Date.now()) }), navigationRefused])
        if (state.mainError) throw state.mainError
      } catch (e) {
        // goto's own timeout is the budget's remainder: it may fire a moment before the budget's timer does.
        const budgetSpent = (e as Error | undefined)?.name === 'TimeoutError'
          ? fetchFailed(`The browser did not get the page within ${options.timeoutMs} ms`, { retryable: true, reason: 'timeout' })
          : undefined
        throw state.mainError ?? failure() ?? budgetSpent ?? fetchFailed(`The browser could not open ${siteUrl.href}: ${coerceError(e).message}`, { retryable: true })
      }
      let lastDocumentAtMs = Date.now()
      let lastDocuments = documents
      for (;;) {
        const seen = documents
        if (seen !== lastDocuments) {
          lastDocuments = seen
          lastDocumentAtMs = Date.now()
        }
        // The document as the site served it comes first: once the challenge is passed it is the listing, before the
        // site's own scripts (failing without their bundles, or hydrating) rewrite the DOM.
        const served = state.mainBody
        if (served && served.length <= options.maxBytes) {
          const contentType = state.mainContentType || 'text/html; charset=utf-8'
          const raw = { url: state.mainUrl, status: state.mainStatus, contentType, body: decodeBody(served, contentType) }
          if (await isSettled(raw)) return raw
        }
        let snapshot: BrowserPage | undefined
        try {
          const body = await page.content()
          snapshot = { url: state.mainUrl, status: state.mainStatus, contentType: state.mainContentType || 'text/html; charset=utf-8', body }
        } catch (e) {
          // The document was replaced while it was read (a challenge reloading): read the next one.
          if (failure()) throw failure()
          if (page.isClosed()) throw coerceError(e)
        }
        if (snapshot) {
          if (Buffer.byteLength(snapshot.body) > options.maxBytes) {
            throw fetchFailed(`Page exceeds ${options.maxBytes} bytes`, { reason: 'too-large', limitBytes: options.maxBytes })
          }
          if (await isSettled(snapshot)) return snapshot
          if (Date.now() - lastDocumentAtMs > CHALLENGE_PATIENCE_MS) return snapshot
        }
        await nextChange(seen)
        if (state.mainError) throw state.mainError
        if (failure()) {
          // Out of time on a page that never settled: what it shows is the verdict.
          if (snapshot && !signal?.aborted) return snapshot
          throw failure()
        }
      }
    }, budget.signal)
  } catch (e) {
    const err = coerceError(e)
    if (signal?.aborted) throw abortReason(signal)
    throw budget.signal.aborted && !(err instanceof AppError) ? coerceError(budget.signal.reason) : err
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
