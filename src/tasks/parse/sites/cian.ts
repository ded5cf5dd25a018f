import type { CheerioAPI } from 'cheerio'
import { emptyProperty, type MetroDetail, type Property } from '../property.ts'
import { attrOf, metaContent, pairsFromLeaves, textOf, type Pairs } from './dom.ts'
import {
  asArray,
  asNumber,
  asRecord,
  asString,
  dig,
  jsonAfter,
} from './embedded-state.ts'
import { jsonLdNodes, jsonLdTypes } from './json-ld.ts'
import { fieldsFromCharacteristics, parseMarket } from './labels.ts'
import { mergeLayers, withoutNulls, type PropertyLayer } from './merge.ts'
import {
  cleanText,
  parseCeilingHeight,
  parseCurrency,
  parseNumber,
  parsePrice,
  parseRooms,
  toNonNegativeInt,
  toPositive,
  toPositiveInt,
  unixToIso,
} from './normalize.ts'
import { regionFromCity, regionFromUrl } from './region.ts'

const OFFER_CARD_CONFIG = "_cianConfig['frontend-offer-card']"
const DEFAULT_STATE_KEY = '"key":"defaultState","value":'

const MATERIALS: Record<string, string> = {
  brick: 'Кирпичный',
  monolith: 'Монолитный',
  monolithBrick: 'Монолитно-кирпичный',
  panel: 'Панельный',
  block: 'Блочный',
  wood: 'Деревянный',
  stalin: 'Сталинский',
  old: 'Старый фонд',
  aerocreteBlock: 'Газобетонный блок',
  foamConcreteBlock: 'Пенобетонный блок',
  gasSilicateBlock: 'Газосиликатный блок',
  wireframe: 'Каркасный',
}

const REPAIRS: Record<string, string> = {
  no: 'Без ремонта',
  cosmetic: 'Косметический',
  euro: 'Евроремонт',
  design: 'Дизайнерский',
}

const DECORATIONS: Record<string, string> = {
  without: 'Без отделки',
  rough: 'Черновая',
  preFine: 'Предчистовая',
  fine: 'Чистовая',
}

const CURRENCIES: Record<string, string> = { rur: 'RUB', rub: 'RUB', usd: 'USD', eur: 'EUR' }

/** A cian offer card: the embedded offer-card state first, the visible page on top of it. */
export function parseCian($: CheerioAPI, html: string, url: string): Property {
  const offerData = readOfferData(html)
  const pageUrl = metaContent($, 'og:url') ?? attrOf($, 'link[rel="canonical"]', 'href') ?? url
  const property = mergeLayers(
    emptyProperty('cian', pageUrl),
    offerData ? fromState(offerData) : {},
    fromJsonLd($),
    fromDom($, pageUrl, offerData),
  )
  property.region = regionFromCity(property.city) ?? regionFromUrl(pageUrl)
  return property
}

function readOfferData(html: string): unknown {
  const configAt = html.indexOf(OFFER_CARD_CONFIG)
  if (configAt < 0) return null
  const state = jsonAfter(html, DEFAULT_STATE_KEY, configAt)
  return asRecord(dig(state, 'offerData', 'offer')) ? dig(state, 'offerData') : null
}

function fromState(offerData: unknown): PropertyLayer {
  const offer = dig(offerData, 'offer')
  const building = dig(offer, 'building')
  const terms = dig(offer, 'bargainTerms')
  const category = asString(dig(offer, 'category')) ?? ''
  const address = asArray(dig(offer, 'geo', 'address'))
  const characteristics = { ...stateCharacteristics(offerData), ...cianLocationIds(address) }
  const raw: PropertyLayer = {
    offer_id: asString(dig(offer, 'cianId')) ?? asString(dig(offer, 'id')),
    deal_type: dealType(asString(dig(offer, 'dealType'))),
    property_type: propertyType(category, asString(dig(offer, 'offerType'))),
    market: stateMarket(category),
    is_active: stateIsActive(offer),
    price: toNonNegativeInt(asNumber(dig(terms, 'priceRur')) ?? asNumber(dig(terms, 'price'))),
    currency: CURRENCIES[asString(dig(terms, 'currency')) ?? ''] ?? null,
    price_per_sqm: toPositive(asNumber(dig(offerData, 'priceInfo', 'pricePerSquareValue'))),
    total_area: toPositive(asNumber(dig(offer, 'totalArea'))),
    living_area: toPositive(asNumber(dig(offer, 'livingArea'))),
    kitchen_area: toPositive(asNumber(dig(offer, 'kitchenArea'))),
    land_area: stateLandArea(dig(offer, 'land')),
    rooms: stateRooms(offer),
    floor: asNumber(dig(offer, 'floorNumber')),
    floors_total: toPositiveInt(asNumber(dig(building, 'floorsCount'))),
    address: joinAddress(address.map((part) => asString(dig(part, 'shortName')))),
    city: addressPart(address, (part) => dig(part, 'locationTypeId') === 1),
    district:
      addressPart(address, (part) => dig(part, 'type') === 'raion') ??
      addressPart(address, (part) => dig(part, 'type') === 'okrug'),
    ...stateMetro(dig(offer, 'geo', 'undergrounds')),
    lat: asNumber(dig(offer, 'geo', 'coordinates', 'lat')),
    lon: asNumber(dig(offer, 'geo', 'coordinates', 'lng')),
    year_built: asNumber(dig(building, 'buildYear')),
    completion_year:
      asNumber(dig(building, 'deadline', 'year')) ??
      asNumber(dig(offer, 'newbuilding', 'house', 'finishDate', 'year')),
    house_type: MATERIALS[asString(dig(building, 'materialType')) ?? ''] ?? null,
    ceiling_height: parseCeilingHeight(asString(dig(building, 'ceilingHeight'))),
    residential_complex:
      asString(dig(offer, 'geo', 'jk', 'name')) ?? asString(dig(offer, 'newbuilding', 'name')),
    repair:
      REPAIRS[asString(dig(offer, 'repairType')) ?? ''] ??
      DECORATIONS[asString(dig(offer, 'decoration')) ?? ''] ??
      null,
    photos: asArray(dig(offer, 'photos'))
      .map((photo) => asString(dig(photo, 'fullUrl')))
      .filter((u): u is string => u !== null),
    description: cleanDescription(asString(dig(offer, 'description'))),
    published_at: unixToIso(asNumber(dig(offer, 'publicationDate'))),
  }
  return {
    ...withoutNulls(raw),
    ...withoutNulls(fieldsFromCharacteristics(characteristics)),
    characteristics,
  }
}

function fromJsonLd($: CheerioAPI): PropertyLayer {
  const product = jsonLdNodes($).find((node) => jsonLdTypes(node).includes('Product'))
  if (!product) return {}
  return {
    title: cleanText(asString(product.name)),
    currency: parseCurrency(asString(dig(product, 'offers', 'priceCurrency'))),
    photos: asArray(product.image).map(asString).filter((u): u is string => u !== null),
  }
}

function fromDom($: CheerioAPI, pageUrl: string, offerData: unknown): PropertyLayer {
  const characteristics: Pairs = {
    ...pairsFromLeaves($, '[data-name="ObjectFactoidsItem"]'),
    ...pairsFromLeaves($, '[data-name="OfferSummaryInfoItem"]'),
    ...pairsFromLeaves($, '[data-name="OfferFactItem"]'),
  }
  const title = textOf($, '[data-name="OfferTitleNew"] h1') ?? textOf($, 'h1')
  const priceText = textOf($, '[data-testid="price-amount"]')
  const addressParts = $('[data-name="AddressItem"]')
    .map((_, el) => cleanText($(el).text()))
    .get()
  const metro = $('[data-name="UndergroundItem"]')
    .map((_, el) => cleanText($(el).find('a').first().text()))
    .get()
  const visible: PropertyLayer = {
    offer_id: /\/(\d{5,})\/?(?:[?#]|$)/.exec(pageUrl)?.[1] ?? null,
    title,
    deal_type: domDealType(title) ?? dealTypeFromUrl(pageUrl),
    market: parseMarket(characteristics['Тип жилья']),
    is_active: /снято с публикации|объявление снято/i.test(textOf($, '[data-name="OfferCardPageLayoutCenter"]') ?? '')
      ? false
      : null,
    price: parsePrice(priceText),
    currency: parseCurrency(priceText),
    // A search page's heading ("1-комн и 2-комн квартир") is not one listing's room count.
    rooms: $('[data-name="OfferTitleNew"]').length > 0 ? parseRooms(title) : null,
    address: joinAddress(addressParts),
    district: domDistrict(addressParts, offerData),
    metro,
    metro_details: domMetroDetails($, offerData),
    description: cleanDescription(textOf($, '[data-name="Description"] [data-name="Shutter"]')),
  }
  return {
    ...withoutNulls(visible),
    ...withoutNulls(fieldsFromCharacteristics(characteristics)),
    characteristics,
  }
}

function stateCharacteristics(offerData: unknown): Pairs {
  const pairs: Pairs = {}
  for (const factoid of asArray(dig(offerData, 'factoids'))) {
    addStatePair(pairs, dig(factoid, 'title'), dig(factoid, 'value'))
  }
  for (const group of asArray(dig(offerData, 'features'))) {
    for (const feature of asArray(dig(group, 'features'))) {
      addStatePair(pairs, dig(feature, 'label'), dig(feature, 'value'))
    }
  }
  return pairs
}

function addStatePair(pairs: Pairs, label: unknown, value: unknown): void {
  const key = cleanText(asString(label))
  const text = cleanText(asString(value))
  if (key && text && !(key in pairs)) pairs[key] = text
}

function dealType(value: string | null): Property['deal_type'] {
  if (value === 'sale' || value === 'rent') return value
  return null
}

function domDealType(title: string | null): Property['deal_type'] {
  if (!title) return null
  if (/^\s*(продает|продаё|продаж)/i.test(title)) return 'sale'
  if (/^\s*(сдает|сдаё|аренд)/i.test(title)) return 'rent'
  return null
}

function dealTypeFromUrl(url: string): Property['deal_type'] {
  if (/\/sale\//.test(url)) return 'sale'
  if (/\/rent\//.test(url)) return 'rent'
  return null
}

function propertyType(category: string, offerType: string | null): Property['property_type'] {
  if (offerType === 'offices' || /commercial|office|warehouse|shoppingArea|freeAppointment/i.test(category)) {
    return 'commercial'
  }
  if (/^room|bed/i.test(category)) return 'room'
  if (/^land/i.test(category)) return 'land'
  if (/house|cottage|townhouse/i.test(category)) return 'house'
  if (/flat/i.test(category) || offerType === 'flat') return 'flat'
  return null
}

function stateMarket(category: string): Property['market'] {
  if (/^newBuilding/i.test(category)) return 'new_building'
  if (/^flat(Sale|Rent)$/i.test(category)) return 'secondary'
  return null
}

function stateIsActive(offer: unknown): boolean | null {
  const status = asString(dig(offer, 'status'))
  if (dig(offer, 'flags', 'isArchived') === true) return false
  if (status === 'published') return true
  if (status === 'deactivated' || status === 'deleted' || status === 'removedByModerator') return false
  return null
}

function stateRooms(offer: unknown): number | null {
  if (asString(dig(offer, 'flatType')) === 'studio') return 0
  return toNonNegativeInt(asNumber(dig(offer, 'roomsCount')))
}

function stateLandArea(land: unknown): number | null {
  const area = asNumber(dig(land, 'area'))
  const unit = asString(dig(land, 'areaUnitType'))
  if (area === null || area <= 0) return null
  if (unit === 'sotka') return area * 100
  if (unit === 'hectare') return area * 10_000
  return area
}

function stateMetro(undergrounds: unknown): Pick<Property, 'metro' | 'metro_details'> {
  const details: MetroDetail[] = []
  for (const station of asArray(undergrounds)) {
    const name = cleanText(asString(dig(station, 'name')))
    if (!name) continue
    const travel = asString(dig(station, 'travelType'))
    details.push({
      name,
      minutes: toNonNegativeInt(asNumber(dig(station, 'travelTime'))),
      mode: travel === 'walk' ? 'walk' : travel === 'transport' ? 'transport' : null,
    })
  }
  return { metro: details.map((d) => d.name), metro_details: details }
}

/** Visible stations with their minutes; the walk/transport mode exists only in the state. */
function domMetroDetails($: CheerioAPI, offerData: unknown): MetroDetail[] {
  const fromState = stateMetro(dig(offerData, 'offer', 'geo', 'undergrounds')).metro_details
  return $('[data-name="UndergroundItem"]')
    .map((_, el) => {
      const name = cleanText($(el).find('a').first().text())
      if (!name) return null
      const known = fromState.find((d) => sameName(d.name, name))
      const minutesText = cleanText($(el).text().replace(name, ''))
      const minutes = /мин/.test(minutesText ?? '') ? toNonNegativeInt(parseNumber(minutesText)) : null
      return { name, minutes: minutes ?? known?.minutes ?? null, mode: known?.mode ?? null }
    })
    .get()
}

function domDistrict(parts: string[], offerData: unknown): string | null {
  const raion = parts.find((part) => /^(р-н|район)\s/i.test(part) || /\sрайон$/i.test(part))
  if (raion) return raion.replace(/^(р-н|район)\s+|\s+район$/gi, '').trim()
  const okrug = addressPart(asArray(dig(offerData, 'offer', 'geo', 'address')), (p) => dig(p, 'type') === 'okrug')
  return okrug && parts.some((part) => sameName(part, okrug)) ? okrug : null
}

/** cian's own ids of the listing's city and oblast: the analog search asks cian for exactly these. */
function cianLocationIds(parts: unknown[]): Pairs {
  const ids: Pairs = {}
  for (const part of parts) {
    const id = asNumber(dig(part, 'id'))
    if (dig(part, 'type') !== 'location' || id === null || !Number.isInteger(id) || id <= 0) continue
    const level = dig(part, 'locationTypeId')
    if (level === 1 && !ids.cian_city_id) ids.cian_city_id = String(id)
    if (level === 2 && !ids.cian_region_id) ids.cian_region_id = String(id)
  }
  return ids
}

function addressPart(parts: unknown[], test: (part: unknown) => boolean): string | null {
  const part = parts.find(test)
  return part ? cleanText(asString(dig(part, 'name'))) : null
}

function joinAddress(parts: Array<string | null>): string | null {
  const present = parts.filter((p): p is string => p !== null && p !== '')
  return present.length > 0 ? present.join(', ') : null
}

function sameName(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/ё/g, 'е').trim()
  return norm(a) === norm(b)
}

function cleanDescription(text: string | null): string | null {
  return text ? text.slice(0, 10_000) : null
}
