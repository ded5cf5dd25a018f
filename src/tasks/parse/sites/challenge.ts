import type { CheerioAPI } from 'cheerio'
import type { BlockedPage } from '../property.ts'
import { cleanText } from './normalize.ts'

/** Anti-bot vendors' interstitials (Cloudflare, DDoS-Guard, Qrator, ServicePipe, Variti) name themselves in their markup. */
const VENDOR_MARKER = /cf[-_]chl|challenge-platform|ddos-guard|qrator|servicepipe|variti|checking your browser|проверка браузера|проверяем ваш браузер/i

/** A script that stores a cookie and then reloads or leaves the page: the classic JavaScript challenge. */
const SETS_COOKIE = /document\.cookie\s*=/
const NAVIGATES = /location\.(?:reload|replace|assign)\s*\(|location(?:\.href)?\s*=[^=]/

/** Challenge pages say a line or two ("Проверяем ваш браузер…"); a page with more to read is the site's own. */
const MAX_CHALLENGE_TEXT_CHARS = 1500

/**
 * A JavaScript challenge served instead of the page: a vendor marker, a cookie-setting reload script or a
 * meta refresh. Callers ask only about pages without listing content (parse-page's hasListingContent), so a
 * real listing that mentions a challenge vendor in its scripts stays a listing.
 */
export function detectChallenge($: CheerioAPI, site: string): BlockedPage | null {
  const body = $('body').clone()
  body.find('script, style, noscript, template').remove()
  if ((cleanText(body.text()) ?? '').length > MAX_CHALLENGE_TEXT_CHARS) return null
  const title = cleanText($('title').first().text()) ?? ''
  const scripts = $('script:not([src])')
    .map((_, element) => $(element).text())
    .get()
    .join('\n')
  const markup = `${$('body').attr('class') ?? ''} ${$('[id],[class]').slice(0, 50).map((_, el) => `${$(el).attr('id') ?? ''} ${$(el).attr('class') ?? ''}`).get().join(' ')}`
  if (VENDOR_MARKER.test(`${title} ${markup} ${scripts}`)) return challenge(site, 'anti-bot interstitial', title)
  if (SETS_COOKIE.test(scripts) && NAVIGATES.test(scripts)) return challenge(site, 'cookie and reload script', title)
  if ($('meta[http-equiv="refresh" i]').length > 0) return challenge(site, 'meta refresh', title)
  return null
}

function challenge(site: string, marker: string, title: string): BlockedPage {
  return { blocked: true, site, reason: `challenge: ${marker}${title ? ` (${title.slice(0, 80)})` : ''}` }
}
