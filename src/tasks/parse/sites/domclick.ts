import type { CheerioAPI } from 'cheerio'
import { emptyProperty, type Property } from '../property.ts'
import { addPair, attrOf, metaContent, textOf, type Pairs } from './dom.ts'
import { asArray, asNumber, asString, dig, jsonAfter } from './embedded-state.ts'
import { fieldsFromCharacteristics, parseMarket } from './labels.ts'
import { mergeLayers, withoutNulls, type PropertyLayer } from './merge.ts'
import {
  cleanText,
  parseCurrency,
  parsePrice,
  parseRooms,
  toNonNegativeInt,
  toPositive,
  toPositiveInt,
} from './normalize.ts'
import { regionFromCity, regionFromUrl } from './region.ts'

const STATE_MARKER = '__SSR_STATE__='
const IMAGE_ORIGIN = 'https://img.dmclk.ru'

/** A domclick card: window.__SSR_STATE__ (not strict JSON) first, the visible card on top. */
export function parseDomclick($: CheerioAPI, html: string, url: string): Property {
  const card = dig(jsonAfter(html, STATE_MARKER), 'productCard')
  const pageUrl = attrOf($, 'link[rel="canonical"]', 'href') ?? metaContent($, 'og:url') ?? url
  const property = mergeLayers(
    emptyProperty('domclick', pageUrl),
    card ? fromState(card) : {},
    fromDom($, pageUrl),
  )
  property.region = regionFromCity(property.city) ?? regionFromUrl(pageUrl)
  return property
}

function fromState(card: unknown): PropertyLayer {
  const info = dig(card, 'objectInfo')
  const house = dig(card, 'house', 'info')
  const address = dig(card, 'address')
  const parents = asArray(dig(address, 'parents'))
  const dealType = asString(dig(card, 'dealType'))
  const offerType = asString(dig(card, 'offerType')) ?? ''
  return {
    offer_id: asString(dig(card, 'id')) ?? asString(dig(card, '_id')),
    deal_type: dealType === 'sale' || dealType === 'rent' ? dealType : null,
    property_type: propertyType(offerType),
    market: /new/i.test(offerType) ? 'new_building' : null,
    is_active: stateIsActive(card),
    price: toNonNegativeInt(asNumber(dig(card, 'priceInfo', 'price'))),
    currency: parseCurrency(asString(dig(card, 'priceInfo', 'currency'))),
    price_per_sqm: dealType === 'sale' ? toPositive(asNumber(dig(card, 'priceInfo', 'squarePrice'))) : null,
    total_area: toPositive(asNumber(dig(info, 'area'))),
    // domclick writes 0 for an area it does not know.
    living_area: toPositive(asNumber(dig(info, 'livingArea'))),
    kitchen_area: toPositive(asNumber(dig(info, 'kitchenArea'))),
    rooms: toNonNegativeInt(asNumber(dig(info, 'rooms'))),
    floor: asNumber(dig(info, 'floor')),
    floors_total: toPositiveInt(asNumber(dig(house, 'floors'))),
    address: cleanText(asString(dig(address, 'displayNameShort'))),
    city: cleanText(asString(dig(address, 'locality'))),
    district: parentName(parents, 'district'),
    metro: asArray(dig(address, 'subways'))
      .map((s) => cleanText(asString(dig(s, 'name'))))
      .filter((n): n is string => n !== null),
    lat: asNumber(dig(address, 'position', 'lat')),
    lon: asNumber(dig(address, 'position', 'lon')),
    year_built: asNumber(dig(house, 'buildYear')),
    house_type: cleanText(asString(dig(house, 'wallType'))),
    ceiling_height: toPositive(asNumber(dig(house, 'ceilingHeight'))),
    residential_complex: cleanText(asString(dig(card, 'flatComplex', 'name'))),
    repair: cleanText(asString(dig(info, 'renovation'))),
    photos: asArray(dig(card, 'photos'))
      .map((p) => imageUrl(asString(dig(p, 'url'))))
      .filter((u): u is string => u !== null),
    description: cleanText(asString(dig(info, 'description'))),
  }
}

function fromDom($: CheerioAPI, pageUrl: string): PropertyLayer {
  const characteristics: Pairs = {}
  $('[data-e2e-id="main-details-block"] > li').each((_, li) => {
    addPair(characteristics, $(li).children('span').last().text(), $(li).children('div').first().text())
  })
  $('[data-e2e-id="product-details"] [data-e2e-id="Значение"], [data-e2e-id="building-info-block"] [data-e2e-id="Значение"]').each(
    (_, value) => {
      addPair(characteristics, $(value).parent().closest('[data-e2e-id]').attr('data-e2e-id') ?? null, $(value).text())
    },
  )
  const title = textOf($, 'h1')
  const priceBlock = $('[data-e2e-id="price"]').first()
  const crumbs = $('[data-e2e-id="breadcrumbs"] a')
    .map((_, a) => cleanText($(a).text()))
    .get()
  const visible: PropertyLayer = {
    offer_id: /__(\d{5,})/.exec(pageUrl)?.[1] ?? null,
    title,
    deal_type: /^\s*(сда[её]тся|аренд)/i.test(title ?? '') ? 'rent' : /^\s*прода[её]тся/i.test(title ?? '') ? 'sale' : null,
    price: parsePrice(priceBlock.find('[itemprop="price"]').attr('content') ?? priceBlock.text()),
    currency: parseCurrency(priceBlock.find('[itemprop="priceCurrency"]').attr('content') ?? priceBlock.text()),
    rooms: parseRooms(title),
    address: cleanText($('[data-e2e-id="location"] [itemprop="name"]').first().contents().first().text()),
    city: attrOf($, '[data-e2e-id="location"] [itemprop="addressLocality"]', 'content'),
    market: parseMarket(crumbs.find((c) => /вторичк|новостро/i.test(c))),
    photos: $('[data-e2e-id^="gallery-widget-image"] img')
      .map((_, img) => cleanText($(img).attr('src')))
      .get(),
    description: cleanText($('[data-e2e-id="description"]').text().replace(/^\s*Описание/, '')),
  }
  return {
    ...withoutNulls(visible),
    ...withoutNulls(fieldsFromCharacteristics(characteristics)),
    characteristics,
  }
}

function propertyType(offerType: string): Property['property_type'] {
  if (/flat/i.test(offerType)) return 'flat'
  if (/room/i.test(offerType)) return 'room'
  if (/house|cottage|townhouse/i.test(offerType)) return 'house'
  if (/lot|land/i.test(offerType)) return 'land'
  if (/commercial|office|garage/i.test(offerType)) return 'commercial'
  return null
}

function stateIsActive(card: unknown): boolean | null {
  if (asString(dig(card, 'removedDate'))) return false
  return asString(dig(card, 'publishedDate')) ? true : null
}

function parentName(parents: unknown[], kind: string): string | null {
  const parent = parents.find((p) => dig(p, 'kind') === kind)
  return parent ? cleanText(asString(dig(parent, 'name'))) : null
}

function imageUrl(path: string | null): string | null {
  if (!path) return null
  return path.startsWith('http') ? path : `${IMAGE_ORIGIN}${path.startsWith('/') ? '' : '/'}${path}`
}
