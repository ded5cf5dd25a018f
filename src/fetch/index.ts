/** The one way the service reaches URLs that users gave it: listing and search pages, and webhook POSTs. */
export {
  /** createFetcher(config, deps?) → { fetchPage, postWebhook }; fetchTimeoutMs and fetchConnectTimeoutMs bound each attempt, fetchRetries adds attempts. */
  createFetcher,
  /** Redirects fetchPage follows: 5; the sixth fails with FetchFailed. */
  MAX_REDIRECTS,
  /** Bytes of a webhook answer kept in bodySnippet: 1024. */
  WEBHOOK_SNIPPET_BYTES,
  /** Desktop Chrome headers sent with every page request (ru-RU, gzip/deflate/br). */
  BROWSER_HEADERS,
  /** The fetcher: fetchPage(url, { signal }) and postWebhook(url, body, headers, { signal }). */
  type Fetcher,
  /** The Config fields the fetcher reads. */
  type FetchConfig,
  /** Test seams: resolveHost (default system DNS), retryBaseDelayMs (500), retryAfterCapMs (10 000). */
  type FetcherDeps,
  /** signal: job cancellation; aborts the request at once and rethrows its reason. */
  type FetchOptions,
  /** { url (final, on the original site), status, contentType, body (decoded text) }. */
  type FetchedPage,
  /** { status (2xx), bodySnippet (first WEBHOOK_SNIPPET_BYTES, UTF-8) }. */
  type WebhookResponse,
  /** A caller's judgement of a page: { blocked: false } or { blocked: true, reason }. */
  type PageVerdict,
  /** { url, status, contentType, body }: what a rung got, before the ladder adds strategy and attempts. */
  type PageContent,
  /** { strategy, proxy (redacted id or null), outcome ok|blocked|failed, ms, reason? }. */
  type FetchAttempt,
  /** Proxies one rung tries for a page before the next rung: 2. */
  PROXIES_PER_RUNG,
} from './fetcher.ts'
export {
  /** createBrowserPool(options) → { withPage, stats, pid, close }: warm Chromium contexts, recycled by use and age. */
  createBrowserPool,
  /** Chromium's command-line flags. */
  BROWSER_FLAGS,
  type BrowserPool,
  type BrowserPoolOptions,
} from './browser-pool.ts'
export {
  /** scheme://host:port of a proxy URL: the only form shown in logs, metrics and pages. */
  redactProxyUrl,
  /** { proxy, successes, failures, captchas, latencyMs, coolingUntil }. */
  type ProxyHealth,
} from './proxy-pool.ts'
export type { FetchStrategy } from '../config.ts'
export {
  /** Sync check of a listing URL; returns the parsed URL or throws AppError('UrlRejected', …, { details: { reason } }). */
  checkListingUrl,
  /** Sync check of a webhook URL; WEBHOOK_ALLOWLIST skips the address rules; throws AppError('UrlRejected'). */
  checkWebhookUrl,
  /** True for cian.ru, domclick.ru and LISTING_HOSTS (with subdomains), avito.ru (+www, m.), realty.yandex.ru. */
  isListingHost,
  /** Listing domains accepted with every subdomain. */
  LISTING_DOMAINS,
  /** Listing hosts accepted only as written. */
  LISTING_EXACT_HOSTS,
  /** Why a URL was refused, in AppError details.reason. */
  type UrlRejectReason,
} from './url-policy.ts'
export {
  /** True for any address a user-given URL must not reach: loopback, private, CGNAT, metadata, multicast, embedded forms. */
  isForbiddenAddress,
  /** hostname → every address it resolves to. */
  type ResolveHost,
  /** { address, family: 4 | 6 }. */
  type ResolvedAddress,
} from './address-guard.ts'
