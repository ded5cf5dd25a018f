/**
 * @module cian search-results (SERP) page → normalized analog candidates.
 *
 * Two readers over the same page:
 * - the embedded `window._cianConfig['frontend-serp']` state (`initialState.results.offers`):
 *   exact numbers, coordinates, building data, every nearby station with its travel time;
 * - the `CardComponent` DOM cards: what the visitor sees (`OfferTitle`/`OfferSubtitle`,
 *   `MainPrice`, `GeoLabel`, `SpecialGeo`).
 *
 * Cards are read from the state when it is there and then overlaid with the visible station of
 * the DOM card (the fixture's rule: where the visible page and the state disagree the visible value
 * wins — cian's `isDefault` station is not always the one the card shows). Without the state the DOM
 * alone is used. Nothing is invented: a value neither reader finds stays null.
 */
import * as cheerio from 'cheerio'
import type { BlockedPage, MetroDetail, Property } from '../parse/property.ts'
import { emptyProperty } from '../parse/property.ts'
import { loadHtml } from '../parse/sites/dom.ts'
import { unixToIso } from '../parse/sites/normalize.ts'
import { detectChallenge } from '../parse/sites/challenge.ts'
import { sanitizeProperty } from '../parse/sites/merge.ts'
import { findRegion, regionFromCianId, resolveRegion } from './regions.ts'

export type SerpPage = {
  blocked: false
  cards: Property[]
  /** "Найдено N объявлений"; null when the page does not say. */
  totalFound: number | null
  /** Which reader produced the cards. */
  via: 'state' | 'dom'
}

export type SerpOutcome = SerpPage | BlockedPage

/** cian `materialType` → the Russian word the rest of the service uses. */
const HOUSE_TYPES: Record<string, string> = {
  monolith: 'монолит',
  monolithBrick: 'монолитно-кирпичный',
  brick: 'кирпич',
  panel: 'панель',
  block: 'блочный',
  wood: 'деревянный',
  stalin: 'сталинский',
  old: 'старый фонд',
  aerocreteBlock: 'газобетонный блок',
  foamConcreteBlock: 'пенобетонный блок',
  gasSilicateBlock: 'газосиликатный блок',
  frame: 'каркасный',
}

/** Parses one cian SERP page. `url` is the page's own URL (used for the region and relative links). */
export function parseCianSerp(html: string, url: string): SerpOutcome {
  const $ = loadHtml(html)
  if (isBlocked($)) {
    return { blocked: true, site: 'cian', reason: 'captcha' }
  }
  const domCards = readDomCards($, url)
  const offers = readStateOffers(html)
  const totalFound = readTotalFound($, html)
  if (domCards.length === 0 && (offers === null || offers.length === 0)) {
    const challenge = detectChallenge($, 'cian')
    if (challenge) return challenge
  }
  if (offers === null || offers.length === 0) {
    return { blocked: false, cards: domCards.map(sanitizeProperty), totalFound, via: 'dom' }
  }
  const domById = new Map(domCards.map((c) => [c.offer_id, c]))
  const cards = offers.map((offer) => {
    const fromState = offerToProperty(offer, url)
    const fromDom = domById.get(fromState.offer_id)
    // A hostile or corrupted page can carry absurd numbers or NUL bytes: every card leaves schema-valid and storable.
    return sanitizeProperty(fromDom ? overlayVisible(fromState, fromDom) : fromState)
  })
  return { blocked: false, cards, totalFound, via: 'state' }
}

function isBlocked($: cheerio.CheerioAPI): boolean {
  const title = $('title').text()
  if (/captcha|капч/i.test(title)) return true
  if ($('[data-name=CardComponent]').length > 0) return false
  return $('form#form_captcha, .g-recaptcha, [name=g-recaptcha-response], #captcha').length > 0
}

function readTotalFound($: cheerio.CheerioAPI, html: string): number | null {
  const text = `${$('title').text()} ${$('[data-name=SummaryHeader]').text()}`
  const m = /Найден[оа]?\s+([\d\s\u00a0\u202f]+)\s+объявлен/i.exec(text)
  if (m) return toInt(m[1])
  const t = /"totalOffers"\s*:\s*(\d+)/.exec(html)
  return t ? Number(t[1]) : null
}

// ---------------------------------------------------------------- state reader

type Json = Record<string, unknown>

/** The `initialState.results.offers` array, or null when the page has no readable state. */
function readStateOffers(html: string): Json[] | null {
  const marker = "window._cianConfig['frontend-serp']"
  let from = 0
  for (;;) {
    const at = html.indexOf(marker, from)
    if (at < 0) return null
    from = at + marker.length
    const concat = html.indexOf('.concat(', at)
    if (concat < 0 || concat - at > 200) continue
    const items = parseJsonPrefix(html, concat + '.concat('.length)
    if (!Array.isArray(items)) continue
    const state = items.find((it) => isObj(it) && it.key === 'initialState')
    const offers = isObj(state) && isObj(state.value) && isObj(state.value.results)
      ? state.value.results.offers
      : undefined
    if (Array.isArray(offers)) return offers.filter(isObj)
  }
}

/** JSON.parse of the balanced `[...]`/`{...}` value starting at `start` (strings aware). */
function parseJsonPrefix(text: string, start: number): unknown {
  const open = text[start]
  if (open !== '[' && open !== '{') return undefined
  let depth = 0
  let inString = false
  for (let i = start; i < text.length; i++) {
    const ch = text[i]
    if (inString) {
      if (ch === '\\') i++
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') inString = true
    else if (ch === '[' || ch === '{') depth++
    else if (ch === ']' || ch === '}') {
      depth--
      if (depth === 0) {
        try {
          return JSON.parse(text.slice(start, i + 1))
        } catch {
          return undefined
        }
      }
    }
  }
  return undefined
}

function offerToProperty(o: Json, pageUrl: string): Property {
  const id = o.cianId ?? o.id
  const offerId = id === undefined || id === null ? null : String(id)
  const link = str(o.fullUrl) ?? (offerId ? `https://www.cian.ru/${str(o.dealType) ?? 'sale'}/flat/${offerId}/` : pageUrl)
  const p = emptyProperty('cian', absolute(link, pageUrl))
  p.offer_id = offerId
  p.deal_type = o.dealType === 'rent' || o.dealType === 'sale' ? o.dealType : null
  p.property_type = propertyTypeOf(str(o.offerType), str(o.category))
  p.market = marketOf(str(o.category))
  p.is_active = o.status === undefined ? null : o.status === 'published'

  const terms = isObj(o.bargainTerms) ? o.bargainTerms : {}
  const price = num(terms.priceRur) ?? num(terms.price)
  p.price = price === null ? null : Math.round(price)
  p.currency = price === null ? null : 'RUB'

  p.total_area = positive(num(o.totalArea))
  p.living_area = positive(num(o.livingArea))
  p.kitchen_area = positive(num(o.kitchenArea))
  p.rooms = roomsOf(o)
  p.floor = int(o.floorNumber)
  const building = isObj(o.building) ? o.building : {}
  p.floors_total = positive(int(building.floorsCount))
  p.year_built = int(building.buildYear)
  const deadline = isObj(building.deadline) ? int(building.deadline.year) : null
  p.completion_year = deadline
  const material = str(building.materialType)
  p.house_type = material ? (HOUSE_TYPES[material] ?? material) : null
  p.ceiling_height = plausibleCeiling(num(building.ceilingHeight) ?? num(o.ceilingHeight))

  const geo = isObj(o.geo) ? o.geo : {}
  const parts = Array.isArray(geo.address) ? geo.address.filter(isObj) : []
  p.address = parts.map((a) => str(a.title) ?? str(a.name)).filter(isStr).join(', ') || str(geo.userInput)
  const location = parts.find((a) => a.type === 'location')
  p.city = location ? (str(location.name) ?? null) : null
  const raion = parts.find((a) => a.type === 'raion')
  p.district = raion ? (str(raion.name) ?? null) : null
  const okrug = parts.find((a) => a.type === 'okrug')
  const street = parts.find((a) => a.type === 'street')
  const house = parts.find((a) => a.type === 'house')
  const coords = isObj(geo.coordinates) ? geo.coordinates : {}
  p.lat = num(coords.lat)
  p.lon = num(coords.lng) ?? num(coords.lon)
  const gaGeo = isObj(geo.jk) && isObj(geo.jk.gaGeo) ? geo.jk.gaGeo : null
  const locationId = location ? int(location.id) : null
  p.region =
    regionFromCianId(locationId) ??
    (p.city ? resolveRegion({ region: null, city: p.city, address: null }) : null) ??
    regionFromCianId(gaGeo ? int(gaGeo.oblId) : null) ??
    regionFromUrl(pageUrl)

  // The station named in the address is the one the card shows; cian's isDefault may differ.
  const addressMetro = parts.find((a) => a.type === 'metro')
  const stations = Array.isArray(geo.undergrounds) ? geo.undergrounds.filter(isObj) : []
  const details: MetroDetail[] = stations
    .map((u) => ({
      name: str(u.name) ?? '',
      minutes: nonNegInt(u.time),
      mode: u.transportType === 'walk' ? ('walk' as const) : u.transportType === 'transport' ? ('transport' as const) : null,
    }))
    .filter((d) => d.name !== '')
  const primary = str(addressMetro?.name) ?? str(stations.find((u) => u.isDefault === true)?.name)
  details.sort((a, b) => Number(b.name === primary) - Number(a.name === primary))
  p.metro_details = details
  p.metro = details.map((d) => d.name)

  const jk = isObj(geo.jk) ? geo.jk : isObj(o.newbuilding) ? o.newbuilding : null
  p.residential_complex = jk ? (str(jk.name) ?? null) : null

  p.title = clean(str(o.title))
  p.description = clean(str(o.description))
  p.photos = (Array.isArray(o.photos) ? o.photos.filter(isObj) : [])
    .map((ph) => str(ph.fullUrl))
    .filter(isStr)
    .slice(0, 30)
  p.price_per_sqm = pricePerSqm(p.price, p.total_area)
  p.published_at = unixToIso(num(o.addedTimestamp))

  const ch: Record<string, string> = {}
  if (typeof o.isApartments === 'boolean') ch.is_apartments = String(o.isApartments)
  if (locationId !== null && locationId > 0) ch.cian_city_id = String(locationId)
  if (okrug) ch.okrug = str(okrug.name) ?? ''
  if (street) ch.street = str(street.title) ?? str(street.name) ?? ''
  if (house) ch.house = str(house.name) ?? ''
  if (jk && str(jk.fullUrl)) ch.residential_complex_url = str(jk.fullUrl) ?? ''
  if (typeof o.added === 'string') ch.added = o.added
  p.characteristics = ch
  return p
}

function roomsOf(o: Json): number | null {
  // cian keeps studios and free layouts outside roomsCount.
  if (o.flatType === 'studio') return 0
  const n = int(o.roomsCount)
  return n !== null && n >= 0 ? n : null
}

function propertyTypeOf(offerType: string | null, category: string | null): Property['property_type'] {
  if (category?.startsWith('room')) return 'room'
  if (offerType === 'flat') return 'flat'
  if (offerType === 'suburban') return category?.startsWith('land') ? 'land' : 'house'
  if (offerType === 'offices' || offerType === 'commercial') return 'commercial'
  return null
}

function marketOf(category: string | null): Property['market'] {
  if (category === 'newBuildingFlatSale') return 'new_building'
  if (category === 'flatSale') return 'secondary'
  return null
}

// ---------------------------------------------------------------- DOM reader

const PARAMS_RE = /(студия|апарт[а-я.]*\s*-?студия|(\d+)\s*-?\s*комн\.?)[^,]*,\s*([\d\s.,]+)\s*м²(?:,\s*(-?\d+)\s*\/\s*(\d+)\s*этаж)?/i

function readDomCards($: cheerio.CheerioAPI, pageUrl: string): Property[] {
  const out: Property[] = []
  $('[data-name=CardComponent]').each((_, el) => {
    const card = $(el)
    const href = card
      .find('a[href]')
      .map((_, a) => $(a).attr('href') ?? '')
      .get()
      .find((h) => /\/(sale|rent)\/[a-z]+\/\d+\/?/.test(h) && !h.includes('/export/'))
    const url = href ? absolute(href, pageUrl) : pageUrl
    const p = emptyProperty('cian', url)
    const idMatch = href ? /\/(sale|rent)\/([a-z]+)\/(\d+)/.exec(href) : null
    if (idMatch) {
      p.offer_id = idMatch[3]
      p.deal_type = idMatch[1] === 'rent' ? 'rent' : 'sale'
      p.property_type = idMatch[2] === 'flat' ? 'flat' : null
    }

    const titleText = clean(card.find('[data-mark=OfferTitle]').first().text())
    const subtitleText = clean(card.find('[data-mark=OfferSubtitle]').first().text())
    const paramsLine = [titleText, subtitleText].find((t) => t !== null && PARAMS_RE.test(t)) ?? null
    p.title = titleText ?? subtitleText
    if (paramsLine) {
      const m = PARAMS_RE.exec(paramsLine)
      if (m) {
        p.rooms = /студия/i.test(m[1]) ? 0 : int(m[2])
        p.total_area = positive(num(m[3].replace(/\s/g, '').replace(',', '.')))
        p.floor = m[4] === undefined ? null : int(m[4])
        p.floors_total = m[5] === undefined ? null : positive(int(m[5]))
      }
      p.characteristics.params = paramsLine
      p.characteristics.is_apartments = String(/апарт/i.test(paramsLine))
    }

    const priceText = card.find('[data-mark=MainPrice]').first().text()
    p.price = toInt(priceText)
    p.currency = p.price === null ? null : /\$|USD/.test(priceText) ? 'USD' : /€|EUR/.test(priceText) ? 'EUR' : 'RUB'
    if (p.deal_type === null && /мес/.test(priceText)) p.deal_type = 'rent'

    const labels = card
      .find('[data-name=GeoLabel]')
      .map((_, a) => clean($(a).text()))
      .get()
      .filter(isStr)
    p.address = labels.length > 0 ? labels.join(', ') : null
    p.city = labels[0] ?? null
    p.region = regionFromCity(labels[0]) ?? regionFromUrl(pageUrl)
    const raion = labels.find((l) => /^р-н\s/.test(l))
    p.district = raion ? raion.replace(/^р-н\s+/, '') : null
    const okrug = labels.find((l) => /^[А-Я]{1,4}АО$/.test(l))
    if (okrug) p.characteristics.okrug = okrug
    const geoStations = labels.filter((l) => l.startsWith('м. ')).map((l) => l.slice(3).trim())

    const special = readSpecialGeo(card.find('[data-name=SpecialGeo]').first().text())
    const details: MetroDetail[] = special ? [special] : []
    for (const name of geoStations) {
      if (!details.some((d) => sameName(d.name, name))) details.push({ name, minutes: null, mode: null })
    }
    p.metro_details = details
    p.metro = details.map((d) => d.name)
    const streetIdx = labels.findIndex((l, i) => i > 0 && !l.startsWith('м. ') && l !== okrug && l !== raion)
    if (streetIdx > 0) {
      p.characteristics.street = labels[streetIdx]
      if (labels[streetIdx + 1]) p.characteristics.house = labels[streetIdx + 1]
    }

    p.description = clean(card.find('[data-name=Description]').first().text())
    p.price_per_sqm = pricePerSqm(p.price, p.total_area)
    out.push(p)
  })
  return out
}

/** "Народное Ополчение10 минут пешком" / "Тестовская8 минут на транспорте". */
function readSpecialGeo(text: string): MetroDetail | null {
  const t = text.replace(/\s+/g, ' ').trim()
  if (t === '') return null
  const m = /^(.*?)\s*(\d+)\s*мин[а-я.]*\s*(пешком|на транспорте)?/i.exec(t)
  if (!m) return { name: t, minutes: null, mode: null }
  const mode = m[3] ? (/пешком/i.test(m[3]) ? 'walk' : 'transport') : null
  return { name: m[1].trim(), minutes: Number(m[2]), mode }
}

/** State card + the visible station of its DOM twin (visible wins, the rest of the list is kept). */
function overlayVisible(state: Property, dom: Property): Property {
  const shown = dom.metro_details[0]
  if (!shown) return state
  const rest = state.metro_details.filter((d) => !sameName(d.name, shown.name))
  const fromState = state.metro_details.find((d) => sameName(d.name, shown.name))
  const first: MetroDetail = {
    name: shown.name,
    minutes: shown.minutes ?? fromState?.minutes ?? null,
    mode: shown.mode ?? fromState?.mode ?? null,
  }
  const metro_details = [first, ...rest]
  const characteristics = { ...dom.characteristics, ...state.characteristics }
  return {
    ...state,
    title: state.title ?? dom.title,
    address: dom.address ?? state.address,
    metro_details,
    metro: metro_details.map((d) => d.name),
    characteristics,
  }
}

// ---------------------------------------------------------------- small helpers

function regionFromUrl(url: string): string | null {
  const m = /[?&]region=(\d+)/.exec(url)
  if (m) return regionFromCianId(Number(m[1]))
  const host = /^https?:\/\/([a-z-]+)\.cian\.ru/i.exec(url)?.[1]
  if (host === 'spb') return 'spb'
  return null
}

function regionFromCity(city: string | undefined): string | null {
  return city ? (findRegion(city)?.code ?? null) : null
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/ё/g, 'е') === b.toLowerCase().replace(/ё/g, 'е')
}

function pricePerSqm(price: number | null, area: number | null): number | null {
  if (price === null || area === null || area <= 0) return null
  return Math.round((price / area) * 100) / 100
}

function plausibleCeiling(h: number | null): number | null {
  return h !== null && h >= 2 && h <= 10 ? h : null
}

function absolute(href: string, base: string): string {
  try {
    return new URL(href, base).toString()
  } catch {
    return href
  }
}

function toInt(text: string | undefined): number | null {
  if (text === undefined) return null
  const digits = text.replace(/[^\d]/g, '')
  return digits === '' ? null : Number(digits)
}

function clean(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null
  const t = text.replace(/\s+/g, ' ').trim()
  return t === '' ? null : t
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isStr(v: unknown): v is string {
  return typeof v === 'string' && v !== ''
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null
}

function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.replace(',', '.'))
    return Number.isFinite(n) ? n : null
  }
  return null
}

function int(v: unknown): number | null {
  const n = num(v)
  return n !== null && Number.isInteger(n) ? n : null
}

function nonNegInt(v: unknown): number | null {
  const n = int(v)
  return n !== null && n >= 0 ? n : null
}

function positive(n: number | null): number | null {
  return n !== null && n > 0 ? n : null
}
