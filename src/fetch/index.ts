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
} from './fetcher.ts'
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
