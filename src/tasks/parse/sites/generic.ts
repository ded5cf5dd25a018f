import type { CheerioAPI } from 'cheerio'
import { emptyProperty, type Property } from '../property.ts'
import { addPair, attrOf, metaContent, textOf, type Pairs } from './dom.ts'
import { asArray, asNumber, asRecord, asString, dig } from './embedded-state.ts'
import { jsonLdNodes, jsonLdTypes, type JsonLdNode } from './json-ld.ts'
import { fieldsFromCharacteristics } from './labels.ts'
import { mergeLayers, type PropertyLayer } from './merge.ts'
import {
  cleanText,
  parseArea,
  parseCurrency,
  parseFloor,
  parseNumber,
  parsePrice,
  parseRooms,
  parseYear,
  toNonNegativeInt,
} from './normalize.ts'
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
 * Any other listing site: JSON-LD, OpenGraph and microdata, then Russian label → value tables,
 * lists and "Label: value" lines. Visible labels are applied last, so they win.
 */
export function parseGeneric(
  $: CheerioAPI,
  _html: string,
  url: string,
  source: Property['source'] = 'generic',
): Property {
  const pageUrl = metaContent($, 'og:url') ?? attrOf($, 'link[rel="canonical"]', 'href') ?? url
  const characteristics = labelPairs($)
  const property = mergeLayers(
    emptyProperty(source, pageUrl),
    fromOpenGraph($),
    fromJsonLd(jsonLdNodes($)),
    fromMicrodata($),
    { ...fieldsFromCharacteristics(characteristics), characteristics },
    { title: textOf($, 'h1') },
  )
  property.title ??= cleanText($('title').first().text())
  property.rooms ??= parseRooms(property.title)
  if (property.price === null) Object.assign(property, visiblePrice($))
  property.region = regionFromCity(property.city) ?? regionFromUrl(pageUrl)
  return property
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
    price: parsePrice(amount),
    currency: currency ? (parseCurrency(currency) ?? currency.toUpperCase()) : null,
    lat: asNumber(metaContent($, 'place:location:latitude')),
    lon: asNumber(metaContent($, 'place:location:longitude')),
  }
}

function fromJsonLd(nodes: JsonLdNode[]): PropertyLayer {
  const listings = expandListingNodes(nodes)
  const layers = listings.map(fromJsonLdNode)
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

function fromJsonLdNode(node: JsonLdNode): PropertyLayer {
  const offer = firstOffer(node)
  const address = node.address
  return {
    title: cleanText(asString(node.name)),
    description: cleanText(asString(node.description)),
    price: parsePrice(asString(offer?.price ?? offer?.lowPrice)),
    currency: parseCurrency(asString(offer?.priceCurrency)) ?? cleanText(asString(offer?.priceCurrency)),
    total_area: quantityArea(node.floorSize),
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

function quantityArea(value: unknown): number | null {
  const record = asRecord(value)
  if (!record) return parseArea(asString(value))
  const unit = `${asString(record.unitCode) ?? ''} ${asString(record.unitText) ?? ''}`
  if (/FTK|ft/i.test(unit)) return null
  return parseArea(asString(record.value))
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
    price: parsePrice(prop('price')),
    currency: parseCurrency(prop('priceCurrency')) ?? prop('priceCurrency'),
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

/** A visible price element as a last resort; only text with a currency sign counts. */
function visiblePrice($: CheerioAPI): PropertyLayer {
  const text = cleanText($('[class*="price" i], [id*="price" i]').first().text())
  const currency = parseCurrency(text)
  if (!text || !currency) return {}
  return { price: parsePrice(text), currency }
}

function parseCoordinate(text: string | null): number | null {
  return text && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : null
}

function definedOnly(layer: PropertyLayer): PropertyLayer {
  return Object.fromEntries(
    Object.entries(layer).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0)),
  )
}
