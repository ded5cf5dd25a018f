import type { IncomingHttpHeaders } from 'node:http'
import type { Config, FetchStrategy } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { createGuardedLookup, createGuardedResolve, resolveWithSystemDns, type ResolveHost } from './address-guard.ts'
import type { BrowserPool } from './browser-pool.ts'
import { fetchInBrowser, type ResourceRequest } from './browser-rung.ts'
import { decodeBody } from './decode-body.ts'
import { BROWSER_HEADERS } from './headers.ts'
import { abortReason, exchange, fetchFailed, type ExchangeResponse } from './http-exchange.ts'
import { createProxyPool, type Proxy, type ProxyHealth } from './proxy-pool.ts'
import { tunnelThrough } from './proxy-tunnel.ts'
import { isRetryable, parseRetryAfterMs, withRetries, type RetryPolicy } from './retry.ts'
import { checkListingUrl, checkWebhookUrl, isWebhookAllowlisted, redirectSiteUrl, rewriteUrl } from './url-policy.ts'

export { BROWSER_HEADERS } from './headers.ts'

export type FetchConfig = Pick<
  Config,
  | 'listingHosts'
  | 'fetchRewrite'
  | 'fetchTimeoutMs'
  | 'fetchConnectTimeoutMs'
  | 'fetchMaxBytes'
  | 'fetchRetries'
  | 'webhookAllowlist'
> &
  Partial<Pick<Config, 'fetchStrategies' | 'fetchProxies' | 'proxyCooldownSeconds' | 'proxyCooldownMaxSeconds' | 'browserMaxRequests'>>

// For a FetchConfig built without the ladder fields (tests, tools): plain only, no proxies.
const LADDER_DEFAULTS = { fetchProxies: [], proxyCooldownSeconds: 60, proxyCooldownMaxSeconds: 3600, browserMaxRequests: 100 }

export type FetcherDeps = {
  /** Defaults to the system resolver (dns.lookup, all addresses). */
  resolveHost?: ResolveHost
  /** First retry back-off; default 500 ms, doubled per retry up to 8 s. */
  retryBaseDelayMs?: number
  /** Longest Retry-After honoured in place; default 10 s. */
  retryAfterCapMs?: number
  /** The browser rung's Chromium; without it the ladder is plain only, and a ladder naming browser is refused. */
  browserPool?: BrowserPool
  log?: Logger
}

/** What a caller decides about a page: the site's content, or a captcha / block / challenge in its place. */
export type PageVerdict = { blocked: false } | { blocked: true; reason: string; site?: string }

export type PageContent = {
  /** Final URL after redirects, on the original site even when FETCH_REWRITE served it. */
  url: string
  status: number
  contentType: string
  body: string
}

/** One rung's try at a page, as recorded on the job: the proxy by its redacted id, never its credentials. */
export type FetchAttempt = {
  strategy: FetchStrategy
  proxy: string | null
  outcome: 'ok' | 'blocked' | 'failed'
  ms: number
  reason?: string
}

export type FetchOptions = {
  signal?: AbortSignal
  /** Tells the site's page from a block or challenge; a blocked verdict sends the page to the next rung. Default: every page is content. */
  judge?: (page: PageContent) => PageVerdict | Promise<PageVerdict>
  /** Called before a rung after the first one is tried (the task tells the user). */
  onEscalate?: (strategy: FetchStrategy) => void | Promise<void>
}

export type FetchedPage = PageContent & {
  /** The rung that got the page. */
  strategy: FetchStrategy
  /** Every try, the successful one last. */
  attempts: FetchAttempt[]
}

export type WebhookResponse = { status: number; bodySnippet: string }

export type Fetcher = {
  /** Climbs the site's ladder (FETCH_STRATEGIES); throws SiteBlocked with details.attempts when every rung was blocked. */
  fetchPage(url: string, options?: FetchOptions): Promise<FetchedPage>
  /** The rungs tried for a URL, in order. */
  strategiesFor(url: URL): readonly FetchStrategy[]
  /** Per-proxy counters and cool-downs (FETCH_PROXIES), by redacted id. */
  proxyHealth(): ProxyHealth[]
  postWebhook(
    url: string,
    body: string,
    headers?: Readonly<Record<string, string>>,
    options?: FetchOptions,
  ): Promise<WebhookResponse>
}

export const MAX_REDIRECTS = 5
/** Proxies one rung may try for one page before the next rung: a block is often about the address. */
export const PROXIES_PER_RUNG = 2
export const WEBHOOK_SNIPPET_BYTES = 1024

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

const WEBHOOK_USER_AGENT = 'Housler-Webhook/1.0'

// A site answering 5xx usually recovers within seconds; longer outages are the job-level retry's business,
// so in-place waits stay short enough not to hold a worker slot for long.
const RETRY_BASE_DELAY_MS = 500
const RETRY_MAX_DELAY_MS = 8000
const RETRY_AFTER_CAP_MS = 10_000

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function statusDetails(response: ExchangeResponse, url: URL, retryable: boolean): Record<string, unknown> {
  const retryAfterMs = parseRetryAfterMs(headerValue(response.headers, 'retry-after'))
  return { status: response.status, retryable, url: url.href, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }
}

// 429 and 5xx are the site telling us to come back later; any other 4xx will answer the same way next time.
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500
}

function pageStatusError(response: ExchangeResponse, siteUrl: URL): AppError {
  const { status } = response
  if (status === 404 || status === 410) {
    return new AppError('ListingNotFound', `${siteUrl.href} answered ${status}`, {
      details: statusDetails(response, siteUrl, false),
    })
  }
  if (status === 401 || status === 403 || status === 451) {
    return new AppError('SiteBlocked', `${siteUrl.hostname} refused the request with ${status}`, {
      details: statusDetails(response, siteUrl, false),
    })
  }
  return fetchFailed(`${siteUrl.href} answered ${status}`, statusDetails(response, siteUrl, isRetryableStatus(status)))
}

function redirectTarget(response: ExchangeResponse, siteUrl: URL, rewritten: URL | undefined, config: FetchConfig): URL {
  const location = headerValue(response.headers, 'location')
  if (!location) throw fetchFailed(`${siteUrl.href} redirected without a Location`, { status: response.status })
  let next: string
  try {
    next = redirectSiteUrl(location, siteUrl, rewritten)
  } catch (e) {
    const err = coerceError(e)
    throw fetchFailed(`${siteUrl.href} redirected to a malformed Location`, { status: response.status }, err)
  }
  try {
    return checkListingUrl(next, config)
  } catch (e) {
    const err = coerceError(e)
    if (!(err instanceof AppError)) throw err
    throw new AppError('UrlRejected', `Redirect refused: ${err.message}`, {
      cause: err,
      details: { ...(err.details as object), redirectedFrom: siteUrl.href },
    })
  }
}

function withAttempts(error: Error, attempts: readonly FetchAttempt[]): Error {
  if (!(error instanceof AppError) || error.code === 'JobCanceled') return error
  const details = typeof error.details === 'object' && error.details !== null ? error.details : {}
  const copy = new AppError(error.code, error.message, { cause: error.cause, details: { ...details, attempts } })
  copy.stack = error.stack
  return copy
}

/** "plain: captcha (120 ms); browser via socks5://p:1080: challenge (4100 ms)" — for the job's error text. */
function describeAttempts(attempts: readonly FetchAttempt[]): string {
  return attempts
    .map((a) => `${a.strategy}${a.proxy ? ` via ${a.proxy}` : ''}: ${a.outcome === 'ok' ? 'ok' : (a.reason ?? a.outcome).slice(0, 80)} (${a.ms} ms)`)
    .join('; ')
}

function isProxyError(error: Error): boolean {
  return error instanceof AppError && (error.details as { reason?: unknown } | undefined)?.reason === 'proxy'
}

function blockReason(error: AppError): string {
  return error.message.slice(0, 200)
}

/** Builds the one way the service reaches URLs that users gave it: listing pages and webhooks. */
export function createFetcher(fetchConfig: FetchConfig, deps: FetcherDeps = {}): Fetcher {
  const config = { ...LADDER_DEFAULTS, fetchStrategies: { default: undefined, sites: [] }, ...fetchConfig }
  const resolveHost = deps.resolveHost ?? resolveWithSystemDns
  const guardedLookup = createGuardedLookup(resolveHost)
  const guardedResolve = createGuardedResolve(resolveHost)
  const proxies = createProxyPool(config.fetchProxies, {
    cooldownMs: config.proxyCooldownSeconds * 1000,
    cooldownMaxMs: config.proxyCooldownMaxSeconds * 1000,
  })
  const retryPolicy = (signal: AbortSignal | undefined): RetryPolicy => ({
    retries: config.fetchRetries,
    baseDelayMs: deps.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS,
    maxDelayMs: RETRY_MAX_DELAY_MS,
    retryAfterCapMs: deps.retryAfterCapMs ?? RETRY_AFTER_CAP_MS,
    signal,
  })
  const limits = {
    connectTimeoutMs: config.fetchConnectTimeoutMs,
    timeoutMs: config.fetchTimeoutMs,
  }
  const defaultLadder: readonly FetchStrategy[] = config.fetchStrategies.default ?? (deps.browserPool ? ['plain', 'browser'] : ['plain'])

  function strategiesFor(url: URL): readonly FetchStrategy[] {
    const host = url.hostname.toLowerCase()
    const site = config.fetchStrategies.sites.find(({ domain }) => host === domain || host.endsWith(`.${domain}`))
    return site?.strategies ?? defaultLadder
  }

  /** How a request reaches its target: a vetted direct socket, or a tunnel through the proxy to a vetted address. */
  function route(target: URL, trusted: boolean, proxy: Proxy | undefined) {
    if (proxy) {
      const resolveTarget = trusted ? async (host: string) => host : async (host: string) => (await guardedResolve(host))[0]!.address
      return { createConnection: tunnelThrough(proxy, target, resolveTarget, config.fetchConnectTimeoutMs) }
    }
    // FETCH_REWRITE targets are operator config (a mirror, a fixture server) and may well be loopback.
    return trusted ? {} : { lookup: guardedLookup }
  }

  async function getPage(siteUrl: URL, rewritten: URL | undefined, proxy: Proxy | undefined, signal?: AbortSignal): Promise<ExchangeResponse> {
    const response = await exchange({
      ...limits,
      ...route(rewritten ?? siteUrl, rewritten !== undefined, proxy),
      url: rewritten ?? siteUrl,
      method: 'GET',
      headers: rewritten ? { ...BROWSER_HEADERS, 'x-forwarded-host': siteUrl.host } : BROWSER_HEADERS,
      maxBytes: config.fetchMaxBytes,
      overflow: 'fail',
      readsBody: (status) => status >= 200 && status < 300,
      signal,
    })
    if (response.status >= 200 && response.status < 300) return response
    if (REDIRECT_STATUSES.has(response.status) && headerValue(response.headers, 'location')) return response
    throw pageStatusError(response, siteUrl)
  }

  async function fetchPlain(url: URL, proxy: Proxy | undefined, signal?: AbortSignal): Promise<PageContent> {
    let siteUrl = url
    for (let redirects = 0; ; redirects++) {
      if (signal?.aborted) throw abortReason(signal)
      const rewritten = rewriteUrl(siteUrl, config.fetchRewrite)
      const current = siteUrl
      const response = await withRetries(() => getPage(current, rewritten, proxy, signal), retryPolicy(signal))
      if (!REDIRECT_STATUSES.has(response.status)) {
        const contentType = headerValue(response.headers, 'content-type') ?? ''
        return { url: siteUrl.href, status: response.status, contentType, body: decodeBody(response.body, contentType) }
      }
      if (redirects >= MAX_REDIRECTS) {
        throw fetchFailed(`More than ${MAX_REDIRECTS} redirects from ${url.href}`, {
          status: response.status,
          reason: 'too-many-redirects',
        })
      }
      siteUrl = redirectTarget(response, siteUrl, rewritten, config)
    }
  }

  /** One request of a browser page, made by Node: same address rules, rewrite, proxy and limits as a plain fetch. */
  async function fetchResource(
    request: ResourceRequest,
    proxy: Proxy | undefined,
    options: { signal: AbortSignal; timeoutMs: number; check: (url: string) => URL },
  ) {
    let method = request.method.toUpperCase()
    if (method !== 'GET' && method !== 'POST' && method !== 'HEAD') throw fetchFailed(`${method} is not allowed from a page`, { reason: 'method' })
    let url = request.url
    let body = method === 'POST' ? request.body : undefined
    for (let redirects = 0; ; redirects++) {
      const rewritten = rewriteUrl(url, config.fetchRewrite)
      const response = await exchange({
        ...limits,
        ...route(rewritten ?? url, rewritten !== undefined, proxy),
        timeoutMs: Math.min(options.timeoutMs, config.fetchTimeoutMs),
        url: rewritten ?? url,
        method: method as 'GET' | 'POST' | 'HEAD',
        headers: rewritten ? { ...request.headers, 'x-forwarded-host': url.host } : request.headers,
        ...(body ? { body } : {}),
        maxBytes: config.fetchMaxBytes,
        overflow: 'fail',
        readsBody: () => method !== 'HEAD',
        signal: options.signal,
      })
      const location = headerValue(response.headers, 'location')
      if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return { ...response, url }
      if (redirects >= MAX_REDIRECTS) {
        throw fetchFailed(`More than ${MAX_REDIRECTS} redirects from ${request.url.href}`, { status: response.status, reason: 'too-many-redirects' })
      }
      let next: string
      try {
        next = redirectSiteUrl(location, url, rewritten)
      } catch (e) {
        throw fetchFailed(`${url.href} redirected to a malformed Location`, { status: response.status }, coerceError(e))
      }
      try {
        url = options.check(next)
      } catch (e) {
        const err = coerceError(e)
        if (!(err instanceof AppError)) throw err
        throw new AppError('UrlRejected', `Redirect refused: ${err.message}`, { cause: err, details: { ...(err.details as object), redirectedFrom: url.href } })
      }
      // As browsers do: 303, and 301/302 after a POST, continue as a GET without the body.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
    }
  }

  async function fetchWithBrowser(
    siteUrl: URL,
    proxy: Proxy | undefined,
    judge: (page: PageContent) => Promise<PageVerdict>,
    signal?: AbortSignal,
  ): Promise<PageContent> {
    // The composition root refuses to start with this ladder and no Chromium; a tool that built the fetcher itself may not.
    if (!deps.browserPool) throw fetchFailed('The browser rung has no browser (BROWSER_EXECUTABLE_PATH)', { reason: 'no-browser' })
    const page = await fetchInBrowser(
      siteUrl,
      {
        pool: deps.browserPool,
        fetchResource: (request, options) => fetchResource(request, proxy, options),
        listingHosts: config.listingHosts,
        timeoutMs: config.fetchTimeoutMs,
        maxBytes: config.fetchMaxBytes,
        maxRequests: config.browserMaxRequests,
      },
      async (candidate) => !(await judge(candidate)).blocked,
      signal,
    )
    if (page.status === 404 || page.status === 410) {
      throw new AppError('ListingNotFound', `${siteUrl.href} answered ${page.status}`, { details: { status: page.status, retryable: false, url: page.url } })
    }
    if (page.status >= 500) throw fetchFailed(`${siteUrl.href} answered ${page.status}`, { status: page.status, retryable: true, url: page.url })
    return page
  }

  async function fetchPage(url: string, options: FetchOptions = {}): Promise<FetchedPage> {
    const { signal } = options
    const judge = async (page: PageContent): Promise<PageVerdict> => {
      const verdict = options.judge ? await options.judge(page) : { blocked: false as const }
      if (verdict.blocked || page.status < 400) return verdict
      // A 401/403/451 page that is not a known challenge is still the site refusing us.
      return { blocked: true, reason: `status ${page.status}` }
    }
    const siteUrl = checkListingUrl(url, config)
    const ladder = strategiesFor(siteUrl)
    const attempts: FetchAttempt[] = []
    let lastReason = ''
    let blockedBy = siteUrl.hostname
    let blockDetails: object = {}
    for (const [index, strategy] of ladder.entries()) {
      if (index > 0) await options.onEscalate?.(strategy)
      const tried = new Set<string>()
      for (;;) {
        if (signal?.aborted) throw abortReason(signal)
        const proxy = proxies.next(tried)
        if (proxy) tried.add(proxy.id)
        const started = performance.now()
        const record = (outcome: FetchAttempt['outcome'], reason?: string) => {
          const ms = Math.round(performance.now() - started)
          attempts.push({ strategy, proxy: proxy?.id ?? null, outcome, ms, ...(reason === undefined ? {} : { reason }) })
          return ms
        }
        const anotherProxy = () => proxy !== undefined && tried.size < PROXIES_PER_RUNG && proxies.hasUsable(tried)
        let page: PageContent | undefined
        let verdict: PageVerdict
        try {
          page = strategy === 'plain' ? await fetchPlain(siteUrl, proxy, signal) : await fetchWithBrowser(siteUrl, proxy, judge, signal)
          verdict = await judge(page)
        } catch (e) {
          const err = coerceError(e)
          if (signal?.aborted) throw abortReason(signal)
          if (!(err instanceof AppError && err.code === 'SiteBlocked')) {
            record('failed', err.message.slice(0, 200))
            // A proxy that is down or refuses us is the proxy's failure; the next proxy may well get the page.
            const proxyFault = proxy !== undefined && (isRetryable(err) || isProxyError(err))
            if (proxyFault) proxies.failed(proxy)
            if (proxyFault && anotherProxy()) continue
            throw withAttempts(err, attempts)
          }
          verdict = { blocked: true, reason: blockReason(err) }
          blockDetails = typeof err.details === 'object' && err.details !== null ? err.details : {}
        }
        if (!verdict.blocked) {
          const ms = record('ok')
          if (proxy) proxies.succeeded(proxy, ms)
          return { ...page!, strategy, attempts }
        }
        record('blocked', verdict.reason)
        lastReason = verdict.reason
        blockedBy = verdict.site ?? blockedBy
        if (proxy) {
          proxies.blocked(proxy)
          deps.log?.info({ proxy: proxy.id, strategy, reason: verdict.reason }, 'proxy blocked; cooling it down')
        }
        if (anotherProxy()) continue
        break
      }
    }
    throw new AppError('SiteBlocked', `Blocked by ${blockedBy}: ${lastReason}. Try again later (${describeAttempts(attempts)})`, {
      details: { retryable: true, ...blockDetails, site: blockedBy, reason: lastReason, attempts },
    })
  }

  async function postWebhook(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>> = {},
    options: FetchOptions = {},
  ): Promise<WebhookResponse> {
    const { signal } = options
    if (signal?.aborted) throw abortReason(signal)
    const target = checkWebhookUrl(url, config)
    const trusted = isWebhookAllowlisted(target, config.webhookAllowlist)
    const payload = Buffer.from(body)
    return withRetries(async () => {
      const response = await exchange({
        ...limits,
        url: target,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': WEBHOOK_USER_AGENT,
          ...headers,
          'content-length': String(payload.length),
        },
        body: payload,
        lookup: trusted ? undefined : guardedLookup,
        maxBytes: WEBHOOK_SNIPPET_BYTES,
        overflow: 'truncate',
        readsBody: () => true,
        signal,
      })
      const bodySnippet = response.body.toString('utf8')
      if (response.status >= 200 && response.status < 300) return { status: response.status, bodySnippet }
      // Following a redirect would let a receiver bounce our POST to an address it chose after the check.
      const reason = response.status >= 300 && response.status < 400 ? 'redirect-not-followed' : 'status'
      throw fetchFailed(`Webhook ${target.host} answered ${response.status}`, {
        ...statusDetails(response, target, isRetryableStatus(response.status)),
        reason,
        bodySnippet: bodySnippet.slice(0, 200),
      })
    }, retryPolicy(signal))
  }

  return { fetchPage, strategiesFor, proxyHealth: () => proxies.health(), postWebhook }
}
