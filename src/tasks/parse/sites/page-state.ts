/**
 * @module The state a page embeds for its own scripts (Next.js `__NEXT_DATA__`, Remix
 * `__remixContext`, Nuxt `__NUXT__`, `window.__INITIAL_STATE__ = {…}`, `JSON.parse("…")`,
 * `dataLayer.push({…})`), read without knowing the site: the listing is the object that carries
 * the offer id of the page's URL (else the one with the most listing keys), and its fields are
 * found by what JSON keys mean across sites (price, latitude, yearBuilt…), not by site paths.
 */
import type { CheerioAPI } from 'cheerio'
import type { Property } from '../property.ts'
import { asRecord, safeJsonParse, sliceJsonValue, stringLiteralAfter } from './embedded-state.ts'
import type { PropertyLayer } from './merge.ts'
import { cleanText, dollarCurrency, parseAmount, parseCurrency, parseYear, round, toNonNegativeInt, toPositive } from './normalize.ts'

type Json = Record<string, unknown>

/** Bounds for hostile pages: scripts read, JSON nodes visited, nested JSON strings decoded. */
const MAX_SCRIPT_CHARS = 6_000_000
const MAX_NODES = 400_000
const MAX_NESTED_STRINGS = 40
const SQFT_TO_SQM = 0.09290304

const ASSIGNMENT = /(?:window\.|window\[\s*["']|self\.|var\s+|let\s+|const\s+|\b)(__[A-Za-z0-9_$]+__|__remixContext|[A-Za-z_$][\w$]*)["']?\]?\s*=\s*(?=[{[]|JSON\.parse\()|\.push(?:KV)?\(\s*(?:'[^']{1,40}'\s*,\s*)?(?=\{)/g

/** Every JSON value the page's inline scripts define, plus JSON strings nested in them. */
export function pageStateRoots($: CheerioAPI): unknown[] {
  const roots: unknown[] = []
  $('script').each((_, el) => {
    const node = $(el)
    if (node.attr('src')) return
    const type = (node.attr('type') ?? '').toLowerCase()
    if (type === 'application/ld+json' || /template|html/.test(type)) return
    const text = node.text()
    if (text.length < 20 || text.length > MAX_SCRIPT_CHARS) return
    if (type === 'application/json' || node.attr('id') === '__NEXT_DATA__') {
      const value = safeJsonParse(text)
      if (value !== null) roots.push(value)
      return
    }
    for (const match of text.matchAll(ASSIGNMENT)) {
      const at = (match.index ?? 0) + match[0].length
      const value = text.startsWith('JSON.parse(', at)
        ? safeJsonParse(stringLiteralAfter(text.slice(at, at + MAX_SCRIPT_CHARS), 'JSON.parse('))
        : safeJsonParse(sliceJsonValue(text, at))
      if (value !== null && typeof value === 'object') roots.push(value)
    }
  })
  return roots
}

const ID_KEYS = new Set(['id', 'listingid', 'propertyid', 'zpid', 'adid', 'advertid', 'classifiedid', 'offerid', 'itemid', 'realestateid', 'listing_id', 'property_id', 'ad_id'])
/** Subtrees about someone or something else than the listing itself. */
const FOREIGN_KEYS = /similar|related|recommend|nearby|agent|agenc|broker|customer|seller|advertiser|contact|office|owner|user|school|history|previous|original|mortgage|calculator|estimate|comparable|tracking|analytics|breadcrumb|seo|footer|header|menu|ads?$|banner/i

type Found = { path: string[]; key: string; value: unknown; parent: Json }

/**
 * The listing's facts from embedded state. `offerId` anchors the search when the URL names one;
 * `pageAreaUnit` says what a unitless area number means on this page.
 */
export function fromPageState(roots: unknown[], offerId: string | null, pageAreaUnit: 'sqm' | 'sqft' | null): PropertyLayer {
  const expanded = expandNestedJson(roots)
  const listing = findListing(expanded, offerId)
  if (!listing) return {}
  const facts = collectFacts(listing)
  const pick = (pattern: RegExp, accept: (f: Found) => boolean = () => true) =>
    facts.find((f) => pattern.test(normKey(f.key)) && accept(f))
  const layer: PropertyLayer = {}
  const priceFact = pick(PRICE_KEY, (f) => amountOf(f.value) !== null)
  if (priceFact) {
    layer.price = toNonNegativeInt(amountOf(priceFact.value))
    layer.currency = currencyNear(priceFact) ?? currencyOf(facts)
  }
  const rooms = pick(ROOMS_KEY, (f) => roomCount(f.value) !== null)
  if (rooms) layer.rooms = roomCount(rooms.value)
  const area = pick(AREA_KEY, (f) => areaOf(f, pageAreaUnit) !== null)
  if (area) layer.total_area = areaOf(area, pageAreaUnit)
  const land = pick(LAND_KEY, (f) => areaOf(f, pageAreaUnit) !== null)
  if (land) layer.land_area = areaOf(land, pageAreaUnit)
  const year = pick(YEAR_KEY, (f) => yearOf(f.value) !== null)
  if (year) layer.year_built = yearOf(year.value)
  const floor = pick(FLOOR_KEY, (f) => typeof f.value === 'number' || (typeof f.value === 'string' && /^-?\d{1,3}$/.test(f.value.trim())))
  if (floor) layer.floor = Number(floor.value)
  const floors = pick(FLOORS_KEY, (f) => positiveInt(f.value) !== null)
  if (floors) layer.floors_total = positiveInt(floors.value)
  const coordinates = facts.find((f) => LAT_KEY.test(normKey(f.key)) && coordinate(f.value, 90) !== null && lonOf(f.parent) !== null)
  if (coordinates) {
    layer.lat = coordinate(coordinates.value, 90)
    layer.lon = lonOf(coordinates.parent)
  }
  const address = pick(ADDRESS_KEY, (f) => addressOf(f.value) !== null)
  if (address) layer.address = addressOf(address.value)
  const city = pick(CITY_KEY, (f) => shortText(f.value) !== null)
  if (city) layer.city = shortText(city.value)
  const type = facts.map((f) => (TYPE_KEY.test(normKey(f.key)) ? propertyTypeOf(f.value) : null)).find((t) => t !== null)
  if (type) layer.property_type = type
  const deal = facts.map((f) => (DEAL_KEY.test(normKey(f.key)) ? dealTypeOf(f.value) : null)).find((d) => d !== null)
  if (deal) layer.deal_type = deal
  return layer
}

const PRICE_KEY = /^(price|listprice|askingprice|saleprice|pricevalue|mainvalue|primaryprice|displayprice|formattedprice|pricenumeric|rentprice|monthlyrent)$/
const ROOMS_KEY = /^(rooms|numberofrooms|roomcount|roomsnumber|roomsquantity|totalrooms|numrooms|roomscount|locali|pieces|nbpieces)$/
const AREA_KEY = /^(livingarea|livingareavalue|floorarea|floorsize|surface|livingspace|nethabitablesurface|habitablesurface|totalarea|areatotal|square|livesquare|builtarea|usablearea|area|size|sizesqm|sqm|sqft)$/
const LAND_KEY = /^(lotsize|lotsqft|lotarea|landarea|landsize|plotspace|plotarea|plotsize|landsurface|landsquare)$/
const YEAR_KEY = /^(yearbuilt|constructionyear|buildingyear|builtyear|yearofconstruction|houseyear|buildyear)$/
const FLOOR_KEY = /^(floor|floornumber|floorlevel)$/
const FLOORS_KEY = /^(floorstotal|floorcount|totalfloors|numberoffloors|buildingfloors|floorsnumber|floorscount|housefloors)$/
const LAT_KEY = /^(latitude|lat)$/
const ADDRESS_KEY = /^(displayaddress|fulladdress|formattedaddress|addresstitle|streetaddress|addressline|address|addressfull)$/
const CITY_KEY = /^(city|cityname|locality|addresslocality|town|municipality)$/
const TYPE_KEY = /^(propertytype|hometype|propertysubtype|subtype|primarypropertytype|buildingtype|realestatetype|estatetype|objecttype)$/
const DEAL_KEY = /^(transactiontype|dealtype|offertype|listingtype|channel|contract|saletype|adtype)$/

function normKey(key: string): string {
  return key.toLowerCase().replace(/[_\-\s]/g, '')
}

/** Roots plus the JSON objects hidden in their string values (zillow's cache, seloger's lifecycle). */
function expandNestedJson(roots: unknown[]): unknown[] {
  const out = [...roots]
  let decoded = 0
  let visited = 0
  const stack = [...roots]
  while (stack.length > 0 && visited < MAX_NODES && decoded < MAX_NESTED_STRINGS) {
    const value = stack.pop()
    visited++
    if (typeof value === 'string') {
      if (value.length > 200 && /^\s*[{[]/.test(value)) {
        const parsed = safeJsonParse(value)
        if (parsed !== null && typeof parsed === 'object') {
          decoded++
          out.push(parsed)
          stack.push(parsed)
        }
      }
    } else if (value !== null && typeof value === 'object') {
      for (const child of Object.values(value)) stack.push(child)
    }
  }
  return out
}

/** The object about this listing: it carries the URL's offer id, else it has the most listing keys. */
function findListing(roots: unknown[], offerId: string | null): Json | null {
  let best: { node: Json; score: number } | null = null
  let visited = 0
  const stack: Array<{ value: unknown; foreign: boolean }> = roots.map((value) => ({ value, foreign: false }))
  while (stack.length > 0 && visited < MAX_NODES) {
    const { value, foreign } = stack.pop()!
    visited++
    if (value === null || typeof value !== 'object') continue
    if (Array.isArray(value)) {
      for (const child of value) stack.push({ value: child, foreign })
      continue
    }
    const node = value as Json
    if (!foreign) {
      const score = listingScore(node) + (offerId !== null && carriesId(node, offerId) ? 10 : 0)
      if (score >= 3 && (!best || score > best.score)) best = { node, score }
    }
    for (const [key, child] of Object.entries(node)) stack.push({ value: child, foreign: foreign || FOREIGN_KEYS.test(key) })
  }
  return best?.node ?? null
}

function carriesId(node: Json, offerId: string): boolean {
  return Object.entries(node).some(([key, value]) => ID_KEYS.has(key.toLowerCase()) && String(value) === offerId)
}

/** Distinct listing facts the object holds itself or one level down (price: {value}, location: {lat}). */
function listingScore(node: Json): number {
  const keys = new Set<string>()
  for (const [key, value] of Object.entries(node)) {
    keys.add(normKey(key))
    const child = asRecord(value)
    if (child && !FOREIGN_KEYS.test(key)) for (const inner of Object.keys(child)) keys.add(normKey(inner))
    // A list of typed facts ({type: "livingSpace", value: …}) names its keys in its items.
    if (Array.isArray(value) && value.length <= MAX_FACT_LIST && !FOREIGN_KEYS.test(key)) {
      for (const item of value) {
        const typed = asRecord(item) && typedPair(item as Json)
        if (typed) keys.add(normKey(typed.key))
      }
    }
  }
  let score = 0
  for (const pattern of [PRICE_KEY, ROOMS_KEY, AREA_KEY, YEAR_KEY, LAT_KEY, ADDRESS_KEY, FLOOR_KEY, /^(bedrooms|beds|numbedrooms|bedroomcount|bedroomsnumber)$/]) {
    if ([...keys].some((key) => pattern.test(key))) score++
  }
  return score
}

/** Key/value pairs under the listing, shallowest first, never inside a foreign subtree. */
function collectFacts(listing: Json): Found[] {
  const facts: Found[] = []
  let queue: Array<{ node: Json; path: string[] }> = [{ node: listing, path: [] }]
  for (let depth = 0; depth < 6 && queue.length > 0; depth++) {
    const next: typeof queue = []
    for (const { node, path } of queue) {
      const typed = typedPair(node)
      if (typed) facts.push({ path, key: typed.key, value: typed.value, parent: node })
      for (const [key, value] of Object.entries(node)) {
        if (FOREIGN_KEYS.test(key)) continue
        facts.push({ path, key, value, parent: node })
        const child = asRecord(value)
        if (child) next.push({ node: child, path: [...path, key] })
        else if (Array.isArray(value) && value.length <= MAX_FACT_LIST) {
          for (const item of value) {
            const record = asRecord(item)
            if (record) next.push({ node: record, path: [...path, key] })
          }
        }
      }
    }
    queue = next
  }
  return facts
}

/** Lists of facts longer than this are galleries or feeds, not the listing's own facts. */
const MAX_FACT_LIST = 40

/** `{type: "livingSpace", value: "117 m²"}`-style facts: the named key holds the value. */
function typedPair(node: Json): { key: string; value: unknown } | null {
  const name = node.type ?? node.key ?? node.name ?? node.id
  const value = node.splitValue ?? node.value
  if (typeof name !== 'string' || name.length > 40 || value === undefined || asRecord(value) || Array.isArray(value)) return null
  return { key: name, value }
}

function amountOf(value: unknown): number | null {
  if (typeof value === 'number') return value > 0 && Number.isFinite(value) ? value : null
  if (typeof value === 'string') {
    // A range ("$470,000 - $500,000") or "from …" is not one price.
    if (/\d\s*[-–—]\s*\D{0,3}\d|\bfrom\b|\bот\b|\bda\b|\bdès\b/i.test(value)) return null
    return /\d/.test(value) ? toPositive(parseAmount(value)) : null
  }
  const record = asRecord(value)
  if (!record) return null
  return amountOf(record.value ?? record.amount ?? record.mainValue ?? record.price ?? null)
}

function currencyNear(found: Found): string | null {
  const own = asRecord(found.value)
  const candidates = [own?.currency, own?.currencyCode, own?.priceCurrency, found.parent.currency, found.parent.currencyCode, found.parent.priceCurrency]
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && parseCurrency(candidate)) return parseCurrency(candidate)
  }
  if (typeof found.value === 'string') return currencySign(found.value)
  const formatted = own?.formattedValue ?? own?.formatted ?? own?.displayValue ?? found.parent.formattedPrice ?? found.parent.displayPrice
  return typeof formatted === 'string' ? currencySign(formatted) : null
}

function currencyOf(facts: Found[]): string | null {
  const code = facts.find((f) => /^(currency|currencycode|pricecurrency)$/.test(normKey(f.key)) && typeof f.value === 'string' && parseCurrency(f.value))
  return code ? parseCurrency(code.value as string) : null
}

function currencySign(text: string): string | null {
  if (text.includes('$')) return dollarCurrency(text) ?? parseCurrency(text)
  return parseCurrency(text)
}

function roomCount(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,2}\s*$/.test(value) ? Number(value) : null
  return n !== null && Number.isInteger(n) && n >= 0 && n <= 20 ? n : null
}

function positiveInt(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,3}\s*$/.test(value) ? Number(value) : null
  return n !== null && Number.isInteger(n) && n > 0 && n < 300 ? n : null
}

function yearOf(value: unknown): number | null {
  const year = typeof value === 'number' ? value : typeof value === 'string' ? parseYear(value) : null
  return year !== null && year >= 1700 && year <= new Date().getFullYear() + 10 ? year : null
}

/** Square metres; square feet (by key, by the value's unit, by a sibling unit key, else the page's unit) converted. */
function areaOf(found: Found, pageUnit: 'sqm' | 'sqft' | null): number | null {
  const record = asRecord(found.value)
  const raw = record ? (record.value ?? record.amount ?? record.size) : found.value
  const amount = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseAmount(raw) : null
  if (amount === null || !(amount > 0)) return null
  const unitText = [
    typeof raw === 'string' ? raw : '',
    record ? String(record.unit ?? record.unitCode ?? record.unitText ?? record.units ?? '') : '',
    ...Object.entries(found.parent)
      .filter(([key]) => /unit/i.test(key) && key.toLowerCase().startsWith(found.key.toLowerCase().slice(0, 4)))
      .map(([, v]) => String(v)),
  ].join(' ')
  const unit = /sq\.?\s*f|sqft|ft²|ft2|feet|FTK/i.test(unitText) || /sqft$/i.test(found.key)
    ? 'sqft'
    : /m²|m2|sq\.?\s*m|sqm|MTK|метр|м²|mq/i.test(unitText)
      ? 'sqm'
      : /acre/i.test(unitText)
        ? null
        : pageUnit
  if (unit === null) return null
  return round(unit === 'sqft' ? amount * SQFT_TO_SQM : amount, 2)
}

function coordinate(value: unknown, limit: number): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,3}\.\d+$/.test(value.trim()) ? Number(value) : null
  return n !== null && Math.abs(n) <= limit && n !== 0 ? n : null
}

function lonOf(parent: Json): number | null {
  for (const [key, value] of Object.entries(parent)) {
    if (/^(longitude|lng|lon|long)$/i.test(key)) return coordinate(value, 180)
  }
  return null
}

function addressOf(value: unknown): string | null {
  if (typeof value === 'string') return shortText(value)?.replace(/,(?=\S)/g, ', ') ?? null
  const record = asRecord(value)
  if (!record) return null
  const parts = ['streetAddress', 'street', 'line', 'line1', 'addressLine1', 'displayAddress', 'locality', 'addressLocality', 'city']
    .map((key) => shortText(record[key]))
    .filter((part): part is string => part !== null)
  return parts.length > 0 ? [...new Set(parts)].join(', ') : null
}

function shortText(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const text = cleanText(value)
  return text && text.length <= 200 && /\p{L}/u.test(text) && !/^https?:/i.test(text) ? text : null
}

/** Property kinds as sites spell them in state values (several languages). */
export function propertyTypeOf(value: unknown): Property['property_type'] {
  if (typeof value !== 'string' || value.length > 80) return null
  const v = value.toLowerCase()
  if (/land|plot|\blot\b|terrain|terreno|участ|grundst/.test(v)) return 'land'
  if (/apartment|flat|condo|duplex|penthouse|studio|квартир|appartamento|appartement|piso|wohnung|trilocale|bilocale|monolocale/.test(v)) return 'flat'
  if (/house|detached|semi|terrace|bungalow|villa|maison|casa|cottage|townhouse|single.?family|дом|коттедж/.test(v)) return 'house'
  if (/\broom\b|комнат|chambre/.test(v)) return 'room'
  if (/commercial|office|retail|warehouse|коммерч|офис/.test(v)) return 'commercial'
  return null
}

/** Sale or rent as sites spell it in state values, URLs and titles. */
export function dealTypeOf(value: unknown): Property['deal_type'] {
  if (typeof value !== 'string' || value.length > 120) return null
  const v = value.toLowerCase()
  if (/rent|\blet\b|to-let|letting|affitt|louer|alquil|miete|аренд|снять|сдаю|сдается/.test(v)) return 'rent'
  if (/sale|sell|\bbuy\b|vendita|vente|vendre|venta|achat|acheter|compra|kauf|продаж|купить|продам|продается/.test(v)) return 'sale'
  return null
}
