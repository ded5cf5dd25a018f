import type { CheerioAPI } from 'cheerio'
import { emptyProperty, type Property } from '../property.ts'
import { attrOf, pairsFromColonText, textOf, type Pairs } from './dom.ts'
import {
  asArray,
  asNumber,
  asRecord,
  asString,
  dig,
  safeJsonParse,
  stringLiteralAfter,
} from './embedded-state.ts'
import { fieldsFromCharacteristics, parseMarket } from './labels.ts'
import { mergeLayers, withoutNulls, type PropertyLayer } from './merge.ts'
import { cleanText, parseCurrency, parsePrice, parseRooms, toNonNegativeInt } from './normalize.ts'
import { regionFromCity, regionFromUrl } from './region.ts'

const HYDRATION_MARKER = 'window.__staticRouterHydrationData = JSON.parse('
const AVITO_ORIGIN = 'https://www.avito.ru'

/** An avito item page: visible params and microdata, with the hydration state for the rest. */
export function parseAvito($: CheerioAPI, html: string, url: string): Property {
  const buyerItem = readBuyerItem(html)
  const item = dig(buyerItem, 'item')
  const pageUrl =
    asString(dig(item, 'seo', 'canonicalUrl')) ??
    attrOf($, 'link[rel="canonical"]', 'href') ??
    absoluteUrl(asString(dig(item, 'url'))) ??
    url
  const property = mergeLayers(
    emptyProperty('avito', pageUrl),
    item ? fromState(item, buyerItem) : {},
    fromDom($),
  )
  property.region = regionFromCity(property.city) ?? regionFromUrl(pageUrl)
  return property
}

function readBuyerItem(html: string): unknown {
  const state = safeJsonParse(stringLiteralAfter(html, HYDRATION_MARKER))
  const loaderData = asRecord(dig(state, 'loaderData'))
  if (!loaderData) return null
  const route = Object.values(loaderData).find((value) => asRecord(dig(value, 'buyerItem', 'item')))
  return route ? dig(route, 'buyerItem') : null
}

function fromState(item: unknown, buyerItem: unknown): PropertyLayer {
  const characteristics: Pairs = {}
  for (const param of asArray(dig(item, 'houseParams', 'data', 'items'))) {
    const label = cleanText(asString(dig(param, 'title')))
    const value = cleanText(asString(dig(param, 'description')))
    if (label && value) characteristics[label] = value
  }
  const crumbs = asArray(dig(item, 'breadcrumbs')).map((c) => asString(dig(c, 'name')) ?? '')
  return {
    ...fieldsFromCharacteristics(characteristics),
    offer_id: asString(dig(item, 'id')),
    title: cleanText(asString(dig(item, 'title'))),
    ...fromBreadcrumbs(crumbs),
    is_active: stateIsActive(item),
    price: toNonNegativeInt(asNumber(dig(item, 'price'))),
    address: cleanText(asString(dig(item, 'geo', 'address')) ?? asString(dig(item, 'address'))),
    city: cleanText(asString(dig(item, 'location', 'name'))),
    district: districtName(asString(dig(item, 'geo', 'references', 0, 'content'))),
    lat: asNumber(dig(item, 'geo', 'coords', 'lat')),
    lon: asNumber(dig(item, 'geo', 'coords', 'lng')),
    photos: galleryUrls(buyerItem, item),
    description: cleanText(asString(dig(item, 'description'))),
    characteristics,
  }
}

function fromDom($: CheerioAPI): PropertyLayer {
  const characteristics = pairsFromColonText($, '[data-marker="item-view/item-params"] li')
  const title = textOf($, '[data-marker="item-view/title-info"]') ?? textOf($, 'h1')
  const priceEl = $('[data-marker="item-view/item-price"]').first()
  const addressBlock = $('[itemprop="address"]').first()
  const crumbs = $('[data-marker="breadcrumbs"] [itemprop="name"]')
    .map((_, el) => cleanText($(el).text()))
    .get()
  const visible: PropertyLayer = {
    offer_id: /\d{6,}/.exec(textOf($, '[data-marker="item-view/item-id"]') ?? '')?.[0] ?? null,
    title,
    ...fromBreadcrumbs(crumbs),
    is_active: $('[data-marker="item-view/closed-warning"]').length > 0 ? false : null,
    price: parsePrice(priceEl.attr('content') ?? priceEl.text()),
    currency:
      parseCurrency(attrOf($, '[data-marker="item-view/item-price"] [itemprop="priceCurrency"]', 'content')) ??
      parseCurrency(priceEl.text()),
    rooms: parseRooms(title),
    address: cleanText(addressBlock.children('span').first().text()),
    district: districtName(cleanText(addressBlock.children('div').first().text())),
    lat: asNumber(attrOf($, '[data-marker="item-map-wrapper"]', 'data-map-lat')),
    lon: asNumber(attrOf($, '[data-marker="item-map-wrapper"]', 'data-map-lon')),
    metro: $('[itemprop="address"] [class*="metro" i], [data-marker="item-address-georeferences"] .metro-name')
      .map((_, el) => cleanText($(el).text()))
      .get(),
    description: textOf($, '[data-marker="item-view/item-description"]'),
  }
  return {
    ...withoutNulls(visible),
    ...withoutNulls(fieldsFromCharacteristics(characteristics)),
    characteristics,
  }
}

function fromBreadcrumbs(crumbs: string[]): PropertyLayer {
  const text = crumbs.join(' › ').toLowerCase()
  return {
    deal_type: /(снять|сдам|аренда)/.test(text) ? 'rent' : /(купить|продам|продажа)/.test(text) ? 'sale' : null,
    property_type: /комнат[ыа](?![а-яё])/.test(text.replace(/\d-комнатные/g, ''))
      ? 'room'
      : /квартир/.test(text)
        ? 'flat'
        : /дома|дачи|коттедж/.test(text)
          ? 'house'
          : /участ/.test(text)
            ? 'land'
            : /коммерческ/.test(text)
              ? 'commercial'
              : null,
    market: parseMarket(crumbs.find((c) => /вторичк|новостро/i.test(c))),
  }
}

function stateIsActive(item: unknown): boolean | null {
  const flags = ['isClosed', 'isArchived', 'isDeleted', 'isExpired', 'isBlocked', 'isRejected']
  if (flags.some((flag) => dig(item, flag) === true)) return false
  const active = dig(item, 'isActive')
  return typeof active === 'boolean' ? active : null
}

function galleryUrls(buyerItem: unknown, item: unknown): string[] {
  const media = asArray(dig(buyerItem, 'galleryInfo', 'media'))
  const sources = media.length > 0 ? media.map((m) => dig(m, 'urls')) : asArray(dig(item, 'imageUrls'))
  return sources.map(largestImage).filter((u): u is string => u !== null)
}

/** Avito keys image variants by size ("1280x960"); the widest one is the gallery image. */
function largestImage(urls: unknown): string | null {
  const record = asRecord(urls)
  if (!record) return null
  const sized = Object.entries(record)
    .map(([size, value]) => ({ width: Number(size.split('x')[0]) || 0, url: asString(value) }))
    .filter((entry) => entry.url !== null)
    .sort((a, b) => b.width - a.width)
  return sized[0]?.url ?? null
}

function districtName(text: string | null): string | null {
  const match = /(?:^|,\s*)(?:р-н|район)\s+([^,]+)/i.exec(text ?? '')
  return match ? cleanText(match[1]) : null
}

function absoluteUrl(path: string | null): string | null {
  if (!path) return null
  return path.startsWith('http') ? path : `${AVITO_ORIGIN}${path.startsWith('/') ? '' : '/'}${path}`
}
