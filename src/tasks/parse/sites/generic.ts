import type { CheerioAPI } from 'cheerio'
import { emptyProperty, type Property } from '../property.ts'
import { addPair, attrOf, metaContent, textOf, type Pairs } from './dom.ts'
import { asArray, asNumber, asRecord, asString, dig } from './embedded-state.ts'
import { jsonLdNodes, jsonLdTypes, type JsonLdNode } from './json-ld.ts'
import { fieldsFromCharacteristics } from './labels.ts'
import { mergeLayers, type PropertyLayer } from './merge.ts'
import {
  cleanText,
  parseAmount,
  parseArea,
  parseCurrency,
  parseFloor,
  parseNumber,
  parsePrice,
  parseRooms,
  parseYear,
  round,
  toNonNegativeInt,
} from './normalize.ts'
import { dealTypeOf, fromPageState, pageStateRoots, propertyTypeOf } from './page-state.ts'
import { regionFromCity, regionFromUrl } from './region.ts'

const LISTING_TYPES = new Set([
  'Offer',
  'Product',
  'Residence',
  'Accommodation',
  'SingleFamilyResidence',
  'Apartment',
  'House',
  'Room',
  'Suite',
  'RealEstateListing',
  'Place',
])

const MICRODATA_SCOPE = [
  'Product',
  'Offer',
  'Residence',
  'Accommodation',
  'SingleFamilyResidence',
  'Apartment',
  'House',
  'RealEstateListing',
]
  .map((type) => `[itemscope][itemtype*="${type}"]`)
  .join(', ')

const MAX_LABEL_ITEMS = 2_000

/**
 * Any other listing site: OpenGraph, JSON-LD and microdata, the page's embedded state, then
 * label → value tables, lists and "Label: value" lines. Visible labels are applied last, so they win.
 * Nothing site-specific: keys, units, numbers and structure carry the facts.
 */
export function parseGeneric(
  $: CheerioAPI,
  html: string,
  url: string,
  source: Property['source'] = 'generic',
): Property {
  const pageUrl = resolvePageUrl($, url)
  const characteristics = labelPairs($)
  const areaUnit = pageAreaUnit(html)
  const property = mergeLayers(
    emptyProperty(source, pageUrl),
    fromOpenGraph($),
    fromJsonLd(jsonLdNodes($), areaUnit),
    fromMicrodata($),
    fromUnitValues(characteristics),
    fromPageState(pageStateRoots($), offerIdFromUrl(pageUrl), areaUnit),
    { ...fieldsFromCharacteristics(characteristics), characteristics },
    { title: textOf($, 'h1') },
  )
  property.title ??= cleanText($('title').first().text())
  property.offer_id ??= offerIdFromUrl(pageUrl)
  property.rooms ??= parseRooms(property.title) ?? parseRooms(cleanText($('title').first().text()))
  // Sale or rent as the page's address and own headings say it, in whatever language.
  property.deal_type ??=
    dealTypeOf(pathOf(pageUrl)) ?? dealTypeOf(property.title) ?? dealTypeOf(cleanText($('title').first().text())) ?? dealTypeOf(metaContent($, 'og:title'))
  property.property_type ??= propertyTypeOf(property.title)
  if (property.price === null) Object.assign(property, visiblePrice($))
  if (property.price !== null && property.currency === null) property.currency = visibleCurrency($)
  property.region = regionFromCity(property.city) ?? regionFromUrl(pageUrl)
  return property
}

/** Query parameters that only say how a visitor arrived, never which listing this is. */
const TRACKING_PARAM = /^(utm_.*|gclid|gclsrc|dclid|fbclid|yclid|ysclid|msclkid|mc_[a-z]+|_openstat|_ga|_gl|ref|referrer|from|source|campaign|cmp|spm|igshid|si)$/i

/**
 * The page's own address: og:url or the canonical link, resolved against the URL the page came
 * from and stripped of tracking parameters; the request URL when the page names none; '' when
 * neither is known (a saved file given without its address).
 */
export function resolvePageUrl($: CheerioAPI, url: string): string {
  const base = absoluteUrl(url, undefined)
  for (const candidate of [metaContent($, 'og:url'), attrOf($, 'link[rel="canonical"]', 'href')]) {
    const resolved = candidate ? absoluteUrl(candidate, base ?? undefined) : null
    if (resolved) return withoutTracking(resolved)
  }
  return base ? withoutTracking(base) : ''
}

function absoluteUrl(value: string, base: string | undefined): string | null {
  try {
    const parsed = new URL(value, base)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null
  } catch {
    return null
  }
}

function withoutTracking(href: string): string {
  const parsed = new URL(href)
  for (const key of [...parsed.searchParams.keys()]) if (TRACKING_PARAM.test(key)) parsed.searchParams.delete(key)
  parsed.hash = ''
  return parsed.href
}

/** The listing's number as its URL carries it: the last run of 5+ digits in the path. */
export function offerIdFromUrl(url: string): string | null {
  const runs = pathOf(url).match(/\d{5,}/g)
  return runs ? runs[runs.length - 1] : null
}

function pathOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname)
  } catch {
    return ''
  }
}

/** What a bare area number means here: the unit the page writes most (markup and state alike). */
function pageAreaUnit(html: string): 'sqm' | 'sqft' | null {
  const text = html.slice(0, 2_000_000)
  const feet = (text.match(/\bsq\.?\s?ft\b|\bsqft\b|ft²|square feet/gi) ?? []).length
  const metres = (text.match(/m²|м²|\bsq\.?\s?m\b|\bsqm\b|\bm2\b|кв\.\s?м/gi) ?? []).length
  if (feet === 0 && metres === 0) return null
  return feet > metres ? 'sqft' : 'sqm'
}

/** Facts whose values carry their own unit, whatever the label's language: "273 m²", "€ 200.000". */
function fromUnitValues(pairs: Pairs): PropertyLayer {
  const layer: PropertyLayer = {}
  for (const [label, value] of Object.entries(pairs)) {
    const landLabel = /land|plot|lot\b|terrain|terreno|участ|grundst|jardin|garden/i.test(label)
    const perUnit = /\/\s*(m²|m2|sq|мес|month|pcm)|per\s/i.test(value)
    const area = /^\s*[\d.,\s\u00a0]+\s*(m²|m2|sq\.?\s?m|sqm|м²)\s*$/i.test(value) ? parseAmount(value) : null
    if (area !== null && area > 0 && !perUnit) {
      if (landLabel) layer.land_area ??= area
      else layer.total_area ??= area
    }
  }
  return layer
}

function fromOpenGraph($: CheerioAPI): PropertyLayer {
  const amount = metaContent($, 'product:price:amount') ?? metaContent($, 'og:price:amount')
  const currency = metaContent($, 'product:price:currency') ?? metaContent($, 'og:price:currency')
  return {
    title: metaContent($, 'og:title'),
    description: metaContent($, 'og:description'),
    photos: $('meta[property="og:image"]')
      .map((_, el) => cleanText($(el).attr('content')))
      .get(),
    price: parsePriceAnyLocale(amount),
    currency: parseCurrency(currency),
    lat: asNumber(metaContent($, 'place:location:latitude')),
    lon: asNumber(metaContent($, 'place:location:longitude')),
  }
}

function fromJsonLd(nodes: JsonLdNode[], areaUnit: 'sqm' | 'sqft' | null): PropertyLayer {
  const listings = expandListingNodes(nodes)
  const layers = listings.map((node) => fromJsonLdNode(node, areaUnit))
  return layers.reduceRight<PropertyLayer>((acc, layer) => ({ ...acc, ...definedOnly(layer) }), {})
}

function expandListingNodes(nodes: JsonLdNode[]): JsonLdNode[] {
  const out: JsonLdNode[] = []
  const visit = (node: unknown, depth: number): void => {
    const record = asRecord(node)
    if (!record || depth > 4) return
    if (jsonLdTypes(record).some((t) => LISTING_TYPES.has(t))) out.push(record)
    for (const key of ['itemOffered', 'mainEntity', 'about', 'containsPlace']) {
      for (const child of asArray(Array.isArray(record[key]) ? record[key] : [record[key]])) {
        visit(child, depth + 1)
      }
    }
  }
  nodes.forEach((node) => visit(node, 0))
  return out
}

function fromJsonLdNode(node: JsonLdNode, areaUnit: 'sqm' | 'sqft' | null = null): PropertyLayer {
  const offer = firstOffer(node)
  const address = node.address
  return {
    title: cleanText(asString(node.name)),
    description: cleanText(asString(node.description)),
    price: offerPrice(offer),
    currency: parseCurrency(asString(offer?.priceCurrency ?? dig(offer, 'priceSpecification', 'priceCurrency'))),
    total_area: quantityArea(node.floorSize, areaUnit),
    rooms: toNonNegativeInt(asNumber(dig(node, 'numberOfRooms', 'value') ?? node.numberOfRooms)),
    floor: parseFloor(asString(node.floorLevel)).floor,
    year_built: parseYear(asString(node.yearBuilt)),
    address: postalAddress(address),
    city: cleanText(asString(dig(address, 'addressLocality'))),
    lat: asNumber(dig(node, 'geo', 'latitude')),
    lon: asNumber(dig(node, 'geo', 'longitude')),
    photos: imageUrls(node.image),
  }
}

function firstOffer(node: JsonLdNode): Record<string, unknown> | null {
  if (jsonLdTypes(node).includes('Offer')) return node
  const offers = node.offers
  return asRecord(Array.isArray(offers) ? offers[0] : offers)
}

/** The offer's one price; a range (lowPrice–highPrice) is not one. */
function offerPrice(offer: Record<string, unknown> | null): number | null {
  if (!offer) return null
  const value = offer.price ?? dig(offer, 'priceSpecification', 'price')
  if (value === undefined && offer.lowPrice !== undefined && offer.lowPrice === offer.highPrice) return parsePriceAnyLocale(asString(offer.lowPrice))
  return parsePriceAnyLocale(asString(value))
}

function parsePriceAnyLocale(text: string | null): number | null {
  if (text === null || /\d\s*[-–—]\s*\D{0,3}\d/.test(text)) return null
  return /^\s*\d+(\.\d+)?\s*$/.test(text) ? toNonNegativeInt(Number(text)) : toNonNegativeInt(parseAmount(text))
}

/** Square metres of a QuantitativeValue; square feet (FTK) converted, a bare number read in the page's unit. */
function quantityArea(value: unknown, areaUnit: 'sqm' | 'sqft' | null): number | null {
  const record = asRecord(value)
  const text = record ? asString(record.value) : asString(value)
  const amount = text === null ? null : /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : parseAmount(text)
  if (amount === null || !(amount > 0)) return null
  const unit = record ? `${asString(record.unitCode) ?? ''} ${asString(record.unitText) ?? ''}` : text ?? ''
  const feet = /FTK|ft|feet/i.test(unit) || (!/MTK|m²|m2|sqm|м²/i.test(unit) && areaUnit === 'sqft')
  return round(feet ? amount * 0.09290304 : amount, 2)
}

function postalAddress(value: unknown): string | null {
  if (typeof value === 'string') return cleanText(value)
  const record = asRecord(value)
  if (!record) return null
  const parts = ['addressRegion', 'addressLocality', 'streetAddress']
    .map((key) => cleanText(asString(record[key])))
    .filter((part): part is string => part !== null)
  return parts.length > 0 ? [...new Set(parts)].join(', ') : null
}

function imageUrls(value: unknown): string[] {
  return asArray(Array.isArray(value) ? value : [value])
    .map((image) => asString(image) ?? asString(dig(image, 'url')) ?? asString(dig(image, 'contentUrl')))
    .filter((url): url is string => url !== null)
}

function fromMicrodata($: CheerioAPI): PropertyLayer {
  const scope = $(MICRODATA_SCOPE)
  if (scope.length === 0 && $('[itemprop="price"]').length === 0) return {}
  const prop = (name: string): string | null => {
    const el = $(`[itemprop="${name}"]`).first()
    if (el.length === 0) return null
    return cleanText(el.attr('content') ?? el.attr('src') ?? el.attr('href') ?? el.text())
  }
  const locality = prop('addressLocality')
  const street = prop('streetAddress')
  return {
    title: cleanText(scope.find('[itemprop="name"]').first().text()),
    price: parsePriceAnyLocale(prop('price')),
    currency: parseCurrency(prop('priceCurrency')),
    total_area: parseArea(prop('floorSize')),
    rooms: toNonNegativeInt(parseNumber(prop('numberOfRooms'))),
    address: street ? [locality, street].filter(Boolean).join(', ') : cleanText($('[itemprop="address"]').first().text()),
    city: locality,
    lat: parseCoordinate(prop('latitude')),
    lon: parseCoordinate(prop('longitude')),
    description: prop('description'),
    photos: $('img[itemprop="image"], [itemprop="image"][content], link[itemprop="image"]')
      .map((_, el) => cleanText($(el).attr('src') ?? $(el).attr('content') ?? $(el).attr('href')))
      .get(),
  }
}

/** Label → value pairs from tables, definition lists and "Label: value" list items. */
function labelPairs($: CheerioAPI): Pairs {
  const pairs: Pairs = {}
  $('tr')
    .slice(0, MAX_LABEL_ITEMS)
    .each((_, row) => {
      const cells = $(row).children('th, td')
      if (cells.length === 2) addPair(pairs, $(cells[0]).text(), $(cells[1]).text())
    })
  $('dl')
    .slice(0, MAX_LABEL_ITEMS)
    .each((_, list) => {
      $(list)
        .children('dt')
        .each((__, term) => addPair(pairs, $(term).text(), $(term).next('dd').text()))
    })
  // A block of two texts, label then value (krisha's offer__info-item, many React sites).
  // Only blocks of 2–4 leaf children are read, so no block's whole subtree text is ever built.
  for (const block of $('div, span').slice(0, MAX_LABEL_ITEMS * 5).toArray()) {
    const children = block.children.filter((node): node is typeof block => node.type === 'tag')
    if (children.length < 2 || children.length > 4) continue
    const parts: string[] = []
    let leaves = true
    for (const child of children) {
      if (child.children.some((node) => node.type === 'tag')) leaves = false
      const text = cleanText(child.children.map((node) => ('data' in node && node.type === 'text' ? node.data : '')).join(''))
      if (text) parts.push(text)
    }
    if (!leaves || parts.length !== 2) continue
    const [label, value] = parts
    if (label.length <= 40 && !/\d/.test(label)) addPair(pairs, label, value)
  }
  $('li, p')
    .slice(0, MAX_LABEL_ITEMS)
    .each((_, item) => {
      const children = $(item).children()
      if (children.length === 2 && !$(item).text().includes(':')) {
        addPair(pairs, $(children[0]).text(), $(children[1]).text())
        return
      }
      const text = cleanText($(item).text())
      const colon = text?.indexOf(':') ?? -1
      if (text && colon > 0 && colon <= 40) addPair(pairs, text.slice(0, colon), text.slice(colon + 1))
    })
  return pairs
}

/** A visible price element as a last resort; only a single amount with a currency sign counts. */
function visiblePrice($: CheerioAPI): PropertyLayer {
  for (const el of $('[class*="price" i], [id*="price" i]').slice(0, MAX_PRICE_CANDIDATES).toArray()) {
    const text = cleanText($(el).text())
    const currency = parseCurrency(text)
    if (!text || !currency || text.length > 60) continue
    const price = /млн|млрд|тыс/i.test(text) ? parsePrice(text) : parsePriceAnyLocale(text)
    if (price !== null && price > 0) return { price, currency }
  }
  return {}
}

const MAX_PRICE_CANDIDATES = 20

/** The currency the visible price names, when the price came without one. */
function visibleCurrency($: CheerioAPI): string | null {
  return parseCurrency(cleanText($('[class*="price" i], [id*="price" i]').first().text()))
}

/** One listing card of a search page's JSON-LD list, or null when it has no address to its page. */
export function listingFromJsonLdNode(node: JsonLdNode, pageUrl: string, source: Property['source']): Property | null {
  const layer = fromJsonLd(expandListingNodes([node]).length > 0 ? [node] : [], null)
  const own = absoluteUrl(asString(node.url) ?? asString(dig(node, 'itemOffered', 'url')) ?? '', pageUrl || undefined)
  if (!own) return null
  const property = mergeLayers(emptyProperty(source, withoutTracking(own)), layer)
  property.url = withoutTracking(own)
  property.offer_id = offerIdFromUrl(property.url)
  property.rooms ??= parseRooms(property.title)
  property.deal_type ??= dealTypeOf(pathOf(property.url))
  property.region = regionFromCity(property.city) ?? regionFromUrl(property.url)
  return property
}

function parseCoordinate(text: string | null): number | null {
  return text && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : null
}

function definedOnly(layer: PropertyLayer): PropertyLayer {
  return Object.fromEntries(
    Object.entries(layer).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0)),
  )
}
