/** Fetches user-given URLs safely: listing pages for parse and analogs, and webhook POSTs. */
export {
  /** createFetcher(config, deps?) → { fetchPage, postWebhook }; timeouts, caps and retries come from config. */
  createFetcher,
  MAX_REDIRECTS,
  BROWSER_HEADERS,
  type Fetcher,
  type FetchConfig,
  type FetcherDeps,
  type FetchOptions,
  type FetchedPage,
  type WebhookResponse,
} from './fetcher.ts'
export {
  /** Sync host/scheme check for listing URLs; throws AppError('UrlRejected'); call it before enqueueing. */
  checkListingUrl,
  /** Sync check for webhook URLs (WEBHOOK_ALLOWLIST bypasses the address rules); throws AppError('UrlRejected'). */
  checkWebhookUrl,
  isListingHost,
  LISTING_DOMAINS,
  LISTING_EXACT_HOSTS,
  type UrlRejectReason,
} from './url-policy.ts'
export {
  /** True for any address a user-given URL must not reach (loopback, private, metadata, embedded forms…). */
  isForbiddenAddress,
  type ResolveHost,
  type ResolvedAddress,
} from './address-guard.ts'
