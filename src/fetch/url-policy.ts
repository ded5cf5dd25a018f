import { isIP } from 'node:net'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { forbiddenAddressReason } from './address-guard.ts'

/** Listing sites whose every subdomain is theirs (spb.cian.ru, www.domclick.ru). */
export const LISTING_DOMAINS = ['cian.ru', 'domclick.ru'] as const

/** Listing sites accepted only under these exact names. */
export const LISTING_EXACT_HOSTS = ['avito.ru', 'www.avito.ru', 'm.avito.ru', 'realty.yandex.ru'] as const

export const MAX_URL_LENGTH = 2048

export type UrlRejectReason =
  | 'malformed'
  | 'too-long'
  | 'scheme'
  | 'credentials'
  | 'ip-literal'
  | 'host-not-allowed'
  | 'forbidden-address'

function reject(reason: UrlRejectReason, message: string, url: unknown): AppError {
  const shown = typeof url === 'string' ? url.slice(0, 200) : typeof url
  return new AppError('UrlRejected', message, { details: { reason, url: shown } })
}

function parseHttpUrl(input: unknown): URL {
  if (typeof input !== 'string' || input.trim() === '') throw reject('malformed', 'URL is empty', input)
  if (input.length > MAX_URL_LENGTH) {
    throw reject('too-long', `URL is longer than ${MAX_URL_LENGTH} characters`, input)
  }
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw reject('malformed', 'URL is malformed', input)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw reject('scheme', `Only http and https URLs are accepted, not ${url.protocol}`, input)
  }
  if (url.username !== '' || url.password !== '') {
    throw reject('credentials', 'URLs with credentials are not accepted', input)
  }
  // "spb.cian.ru." names the same host; dropping the dot keeps host matching and FETCH_REWRITE origins exact.
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.slice(0, -1)
  if (url.hostname === '') throw reject('malformed', 'URL has no host', input)
  return url
}

// WHATWG parsing has already turned 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 into dotted 127.0.0.1.
function isIpLiteral(url: URL): boolean {
  return url.hostname.startsWith('[') || isIP(url.hostname) !== 0
}

function isUnderDomain(hostname: string, domain: string): boolean {
  return hostname === domain || hostname.endsWith(`.${domain}`)
}

export function isListingHost(hostname: string, extraHosts: readonly string[]): boolean {
  const host = hostname.toLowerCase()
  return (
    (LISTING_EXACT_HOSTS as readonly string[]).includes(host) ||
    [...LISTING_DOMAINS, ...extraHosts].some((domain) => isUnderDomain(host, domain.toLowerCase()))
  )
}

/** The listing site a host belongs to (its domain: "cian.ru" for spb.cian.ru, "avito.ru" for m.avito.ru), or undefined. */
export function listingSiteOf(hostname: string, extraHosts: readonly string[]): string | undefined {
  const host = hostname.toLowerCase()
  if ((LISTING_EXACT_HOSTS as readonly string[]).includes(host)) return host.replace(/^(www|m)\./, '')
  return [...LISTING_DOMAINS, ...extraHosts].map((domain) => domain.toLowerCase()).find((domain) => isUnderDomain(host, domain))
}

/**
 * Accepts only an http(s) URL on a known listing site (or LISTING_HOSTS, with subdomains), without credentials or
 * literal IPs. Returns the parsed URL; throws AppError('UrlRejected', …, { details: { reason, url } }).
 */
export function checkListingUrl(url: string, config: Pick<Config, 'listingHosts'>): URL {
  const parsed = parseHttpUrl(url)
  if (isIpLiteral(parsed)) throw reject('ip-literal', 'URLs with an IP address instead of a host name are not accepted', url)
  if (!isListingHost(parsed.hostname, config.listingHosts)) {
    throw reject('host-not-allowed', `${parsed.hostname} is not a supported listing site`, url)
  }
  return parsed
}

type AllowlistEntry = { protocol?: string; hostname: string; port?: string }

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80')
}

function parseAllowlistEntry(entry: string): AllowlistEntry | undefined {
  const text = entry.trim().toLowerCase()
  try {
    if (text.includes('://')) {
      const url = new URL(text)
      return { protocol: url.protocol, hostname: url.hostname, port: effectivePort(url) }
    }
    const url = new URL(`http://${text}`)
    const port = /:(\d+)$/.exec(text)?.[1]
    return port === undefined ? { hostname: url.hostname } : { hostname: url.hostname, port: String(Number(port)) }
  } catch {
    return undefined
  }
}

/** WEBHOOK_ALLOWLIST entries: "http://127.0.0.1:4000" (origin), "127.0.0.1:4000" (host and port), "hooks.example" (host). */
export function isWebhookAllowlisted(url: URL, allowlist: readonly string[]): boolean {
  return allowlist.some((raw) => {
    const entry = parseAllowlistEntry(raw)
    if (!entry || entry.hostname !== url.hostname) return false
    if (entry.protocol !== undefined && entry.protocol !== url.protocol) return false
    return entry.port === undefined || entry.port === effectivePort(url)
  })
}

/**
 * Accepts an http(s) webhook URL without credentials whose host is public: literal IPs must be public unicast,
 * names must not be localhost or single-label. WEBHOOK_ALLOWLIST entries skip the address rules.
 * Resolved addresses are checked again when the webhook is sent.
 */
export function checkWebhookUrl(url: string, config: Pick<Config, 'webhookAllowlist'>): URL {
  const parsed = parseHttpUrl(url)
  if (isWebhookAllowlisted(parsed, config.webhookAllowlist)) return parsed
  if (isIpLiteral(parsed)) {
    const reason = forbiddenAddressReason(parsed.hostname)
    if (reason) throw reject('forbidden-address', `Webhook address is not public (${reason})`, url)
    return parsed
  }
  const host = parsed.hostname.toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) {
    throw reject('forbidden-address', 'Webhook host is the local machine', url)
  }
  // A name without a dot only means something inside our own network (search domains, container names).
  if (!host.includes('.')) throw reject('host-not-allowed', 'Webhook host must be a fully qualified name', url)
  return parsed
}

/** The FETCH_REWRITE target for a site URL: same path and query on the operator's origin, or undefined. */
export function rewriteUrl(siteUrl: URL, rewrite: ReadonlyMap<string, string>): URL | undefined {
  const origin = rewrite.get(siteUrl.origin)
  return origin === undefined ? undefined : new URL(`${siteUrl.pathname}${siteUrl.search}`, origin)
}

/**
 * Where a redirect sends the user, as a site URL: a Location on the rewritten origin (relative or absolute) means
 * the same path on the original site; any other Location is taken as it stands, to be checked like user input.
 */
export function redirectSiteUrl(location: string, siteUrl: URL, rewrittenUrl: URL | undefined): string {
  const resolved = new URL(location, rewrittenUrl ?? siteUrl)
  if (rewrittenUrl && resolved.origin === rewrittenUrl.origin) {
    return new URL(`${resolved.pathname}${resolved.search}`, siteUrl.origin).href
  }
  return resolved.href
}
