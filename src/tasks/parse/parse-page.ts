import * as cheerio from 'cheerio'
import { emptyProperty, type ParseOutcome, type Property } from './property.ts'
import { parseAvito } from './sites/avito.ts'
import { detectBlock } from './sites/blocked.ts'
import { loadHtml } from './sites/dom.ts'
import { parseCian } from './sites/cian.ts'
import { parseDomclick } from './sites/domclick.ts'
import { parseGeneric } from './sites/generic.ts'
import { sanitizeProperty } from './sites/merge.ts'

type SiteParser = (
  $: cheerio.CheerioAPI,
  html: string,
  url: string,
  source: Property['source'],
) => Property

type Site = { source: Property['source']; parse: SiteParser }

/** Pages larger than this are cut before parsing: no real listing comes close. */
const MAX_HTML_CHARS = 8_000_000

/**
 * Parses a saved listing page into the normalized property, or reports that the site served a
 * captcha / IP block instead. Never throws: a parser failure falls back to the generic
 * extractor, and every returned property is schema-valid.
 */
export function parsePage(html: string, url: string): ParseOutcome {
  const text = typeof html === 'string' ? html.slice(0, MAX_HTML_CHARS) : ''
  const site = siteFor(url)
  const $ = loadHtml(text)
  const block = detectBlock($, site.source === 'generic' ? hostOf(url) : site.source)
  if (block) return block
  return { blocked: false, property: sanitizeProperty(runParser(site, $, text, url)) }
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
    return site.parse($, html, url, site.source)
  } catch {
    try {
      return parseGeneric($, html, url, site.source)
    } catch {
      return emptyProperty(site.source, url)
    }
  }
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
