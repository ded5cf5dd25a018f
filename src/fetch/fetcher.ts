import type { IncomingHttpHeaders } from 'node:http'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import { createGuardedLookup, resolveWithSystemDns, type ResolveHost } from './address-guard.ts'
import { decodeBody } from './decode-body.ts'
import { abortReason, exchange, fetchFailed, type ExchangeResponse } from './http-exchange.ts'
import { parseRetryAfterMs, withRetries, type RetryPolicy } from './retry.ts'
import { checkListingUrl, checkWebhookUrl, isWebhookAllowlisted, redirectSiteUrl, rewriteUrl } from './url-policy.ts'

export type FetchConfig = Pick<
  Config,
  | 'listingHosts'
  | 'fetchRewrite'
  | 'fetchTimeoutMs'
  | 'fetchConnectTimeoutMs'
  | 'fetchMaxBytes'
  | 'fetchRetries'
  | 'webhookAllowlist'
>

export type FetcherDeps = {
  /** Defaults to the system resolver (dns.lookup, all addresses). */
  resolveHost?: ResolveHost
  /** First retry back-off; default 500 ms, doubled per retry up to 8 s. */
  retryBaseDelayMs?: number
  /** Longest Retry-After honoured in place; default 10 s. */
  retryAfterCapMs?: number
}

export type FetchOptions = { signal?: AbortSignal }

export type FetchedPage = {
  /** Final URL after redirects, on the original site even when FETCH_REWRITE served it. */
  url: string
  status: number
  contentType: string
  body: string
}

export type WebhookResponse = { status: number; bodySnippet: string }

export type Fetcher = {
  fetchPage(url: string, options?: FetchOptions): Promise<FetchedPage>
  postWebhook(
    url: string,
    body: string,
    headers?: Readonly<Record<string, string>>,
    options?: FetchOptions,
  ): Promise<WebhookResponse>
}

export const MAX_REDIRECTS = 5
export const WEBHOOK_SNIPPET_BYTES = 1024

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

// Listing sites serve bots a captcha or a 403; a current desktop Chrome's headers get the real page.
export const BROWSER_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'user-agent':
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36',
  accept:
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
  'accept-language': 'ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7',
  'accept-encoding': 'gzip, deflate, br',
  'upgrade-insecure-requests': '1',
})

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

/** Builds the one way the service reaches URLs that users gave it: listing pages and webhooks. */
export function createFetcher(config: FetchConfig, deps: FetcherDeps = {}): Fetcher {
  const guardedLookup = createGuardedLookup(deps.resolveHost ?? resolveWithSystemDns)
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

  async function getPage(siteUrl: URL, rewritten: URL | undefined, signal?: AbortSignal): Promise<ExchangeResponse> {
    const response = await exchange({
      ...limits,
      url: rewritten ?? siteUrl,
      method: 'GET',
      headers: rewritten ? { ...BROWSER_HEADERS, 'x-forwarded-host': siteUrl.host } : BROWSER_HEADERS,
      // FETCH_REWRITE targets are operator config (a mirror, a fixture server) and may well be loopback.
      lookup: rewritten ? undefined : guardedLookup,
      maxBytes: config.fetchMaxBytes,
      overflow: 'fail',
      readsBody: (status) => status >= 200 && status < 300,
      signal,
    })
    if (response.status >= 200 && response.status < 300) return response
    if (REDIRECT_STATUSES.has(response.status) && headerValue(response.headers, 'location')) return response
    throw pageStatusError(response, siteUrl)
  }

  async function fetchPage(url: string, options: FetchOptions = {}): Promise<FetchedPage> {
    const { signal } = options
    let siteUrl = checkListingUrl(url, config)
    for (let redirects = 0; ; redirects++) {
      if (signal?.aborted) throw abortReason(signal)
      const rewritten = rewriteUrl(siteUrl, config.fetchRewrite)
      const current = siteUrl
      const response = await withRetries(() => getPage(current, rewritten, signal), retryPolicy(signal))
      if (!REDIRECT_STATUSES.has(response.status)) {
        const contentType = headerValue(response.headers, 'content-type') ?? ''
        return { url: siteUrl.href, status: response.status, contentType, body: decodeBody(response.body, contentType) }
      }
      if (redirects >= MAX_REDIRECTS) {
        throw fetchFailed(`More than ${MAX_REDIRECTS} redirects from ${url}`, {
          status: response.status,
          reason: 'too-many-redirects',
        })
      }
      siteUrl = redirectTarget(response, siteUrl, rewritten, config)
    }
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

  return { fetchPage, postWebhook }
}
