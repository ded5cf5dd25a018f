import * as cheerio from 'cheerio'
import { parseCianSerp } from '../find-similar/serp-cian.ts'
import { emptyProperty, type BlockedPage, type ParseOutcome, type Property } from './property.ts'
import { parseAvito } from './sites/avito.ts'
import { detectBlock } from './sites/blocked.ts'
import { detectChallenge } from './sites/challenge.ts'
import { loadHtml } from './sites/dom.ts'
import { parseCian } from './sites/cian.ts'
import { parseDomclick } from './sites/domclick.ts'
import { parseGeneric, resolvePageUrl } from './sites/generic.ts'
import { mergeLayers, sanitizeProperty, withoutNulls, type PropertyLayer } from './sites/merge.ts'
import { serpCardsFromJsonLd, isSerpPage } from './sites/serp.ts'

type SiteParser = (
  $: cheerio.CheerioAPI,
  html: string,
  url: string,
  source: Property['source'],
) => Property

type Site = { source: Property['source']; parse: SiteParser }

/** What a page is: one listing, a search-results page with its cards, or a block page. */
export type PageReading =
  | { page_kind: 'offer'; property: Property }
  | { page_kind: 'serp'; cards: Property[]; total_found: number | null }
  | ({ page_kind: 'blocked' } & BlockedPage)

/** Pages larger than this are cut before parsing: no real listing comes close. */
const MAX_HTML_CHARS = 8_000_000

/**
 * Parses a saved listing page into the normalized property, or reports that the site served a
 * captcha / IP block instead. Never throws: a parser failure falls back to the generic
 * extractor, and every returned property is schema-valid. `url` may be '' (a saved file of
 * unknown origin): the property's url is then only what the page itself names, else ''.
 */
export function parsePage(html: string, url: string): ParseOutcome {
  const text = typeof html === 'string' ? html.slice(0, MAX_HTML_CHARS) : ''
  const $ = loadHtml(text)
  return parseLoaded($, text, url || resolvePageUrl($, ''))
}

/**
 * Like parsePage, but a search-results page is read as its list of cards (through the SERP
 * parser) instead of as one offer.
 */
export function readPage(html: string, url: string): PageReading {
  const text = typeof html === 'string' ? html.slice(0, MAX_HTML_CHARS) : ''
  const $ = loadHtml(text)
  // A saved file of unknown origin: the address the page names for itself, if any.
  url ||= resolvePageUrl($, '')
  const source = siteFor(url).source
  if (isSerpPage($, text, url, source)) {
    const serp = source === 'cian' ? parseCianSerp(text, url) : null
    if (serp?.blocked) return { page_kind: 'blocked', ...serp }
    const cards = serp ? serp.cards : serpCardsFromJsonLd($, url, source).map(sanitizeProperty)
    if (cards.length > 0) return { page_kind: 'serp', cards, total_found: serp?.totalFound ?? null }
  }
  const outcome = parseLoaded($, text, url)
  return outcome.blocked ? { page_kind: 'blocked', ...outcome } : { page_kind: 'offer', property: outcome.property }
}

function parseLoaded($: cheerio.CheerioAPI, text: string, url: string): ParseOutcome {
  const site = siteFor(url)
  const property = sanitizeProperty(runParser(site, $, text, url))
  // A block verdict needs both: no listing content, and the markers of a block page. Real
  // listings load captcha scripts for their own forms and may say "captcha" anywhere.
  if (hasListingContent(property)) return { blocked: false, property }
  const siteName = site.source === 'generic' ? hostOf(url) || 'unknown' : site.source
  // A JavaScript challenge is a block page too: never a listing with a few stray fields.
  const block = detectBlock($, siteName) ?? detectChallenge($, siteName)
  return block ?? { blocked: false, property }
}

/** Facts only a listing carries; a title, an id taken from the URL or a photo do not count. */
export function hasListingContent(property: Property): boolean {
  return (
    property.price !== null ||
    property.total_area !== null ||
    property.rooms !== null ||
    property.floor !== null ||
    property.lat !== null
  )
}

/** The site whose parser handles this URL; subdomains count ("spb.cian.ru"). */
export function siteFor(url: string): Site {
  const host = hostOf(url)
  if (matchesHost(host, 'cian.ru')) return { source: 'cian', parse: parseCian }
  if (matchesHost(host, 'avito.ru')) return { source: 'avito', parse: parseAvito }
  if (matchesHost(host, 'domclick.ru')) return { source: 'domclick', parse: parseDomclick }
  if (matchesHost(host, 'realty.yandex.ru')) return { source: 'yandex', parse: parseGeneric }
  return { source: 'generic', parse: parseGeneric }
}

function runParser(site: Site, $: cheerio.CheerioAPI, html: string, url: string): Property {
  try {
    const property = site.parse($, html, url, site.source)
    if (site.parse === parseGeneric || (property.price !== null && property.total_area !== null)) return property
    // A layout the site parser was not written for (a 2015 cian page, an old avito microdata page):
    // what the generic extractor reads fills what the site parser left empty.
    return mergeLayers(parseGeneric($, html, url, site.source), withoutNulls(withoutEmpty(property)))
  } catch {
    try {
      return parseGeneric($, html, url, site.source)
    } catch {
      return emptyProperty(site.source, url)
    }
  }
}

/** The property without empty lists and records, so merging it never erases what another reader found. */
function withoutEmpty(property: Property): PropertyLayer {
  return Object.fromEntries(
    Object.entries(property).filter(([, v]) => !(Array.isArray(v) && v.length === 0) && !(v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)),
  )
}

function matchesHost(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`)
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return ''
  }
}
