import type { CheerioAPI } from 'cheerio'
import type { BlockedPage } from '../property.ts'
import { cleanText } from './normalize.ts'

export const BLOCK_REASONS = {
  captcha: 'captcha',
  ipBlock: 'ip_block',
  accessDenied: 'access_denied',
} as const

const IP_BLOCK_TITLE = /проблема с ip|ip[- ]адрес\S* заблокир|ваш ip|blocked ip|ip (?:address )?(?:has been )?blocked/i
const CAPTCHA_TITLE = /captcha|капч|вы не робот|are you (?:a )?(?:human|robot)|подтвердите, что вы|just a moment/i
const DENIED_TITLE = /доступ ограничен|доступ запрещ|access denied|attention required|forbidden|too many requests/i

/** Elements that only an anti-bot page shows as its main content. */
const CAPTCHA_WIDGET =
  '.g-recaptcha, .h-captcha, .smart-captcha, #captcha, form input[name*="captcha" i], iframe[src*="captcha"]'

/** Listing markup that an interstitial never has; its presence vetoes the widget signal. */
const LISTING_MARKUP =
  '[data-name="OfferTitleNew"], [data-name="ObjectFactoids"], [data-marker="item-view/title-info"], [data-e2e-id="main-details-block"], [itemprop="price"]'

/**
 * A captcha or IP-block page served instead of the listing. The title is the strong signal;
 * a captcha widget counts only when the page has no listing markup, because real cian and
 * avito pages load recaptcha scripts for their own forms.
 */
export function detectBlock($: CheerioAPI, site: string): BlockedPage | null {
  const title = cleanText($('title').first().text()) ?? ''
  if (IP_BLOCK_TITLE.test(title)) return blocked(site, BLOCK_REASONS.ipBlock, title)
  if (CAPTCHA_TITLE.test(title)) return blocked(site, BLOCK_REASONS.captcha, title)
  if (DENIED_TITLE.test(title)) return blocked(site, BLOCK_REASONS.accessDenied, title)
  if ($(CAPTCHA_WIDGET).length > 0 && $(LISTING_MARKUP).length === 0) {
    return blocked(site, BLOCK_REASONS.captcha, title || 'captcha form')
  }
  return null
}

function blocked(site: string, kind: string, detail: string): BlockedPage {
  return { blocked: true, site, reason: `${kind}: ${detail.slice(0, 120)}` }
}
