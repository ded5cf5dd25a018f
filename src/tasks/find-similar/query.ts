/**
 * @module AnalogQuery: the one plain-object shape every analog source (live cian search, SQL over
 * stored listings, an in-memory list) answers, plus the pure helpers that build it from a target.
 *
 * `matchesQuery` is the reference meaning of each field; other sources must agree with it.
 */
import type { Property } from '../parse/property.ts'
import { cianLocationFor, resolveRegion, type CianLocation } from './regions.ts'

/** Inclusive room-count range; studio = 0. `{ min: 2, max: 2 }` is "exactly 2". */
export type RoomsRange = { min: number; max: number }

/** How the floor is filtered, after the original: middle → neither first nor last, etc. */
export type FloorRule = 'not_first_not_last' | 'first' | 'last'

export type AnalogQuery = {
  /** Region code (`msk`, `spb`, …, see regions.ts). */
  region: string
  /** Where the live cian search looks (regions.ts); null when cian has no id for the region. */
  cian_location: CianLocation | null
  deal_type: 'sale' | 'rent'
  property_type: Property['property_type']
  /** null = both markets. */
  market: Property['market']
  rooms: RoomsRange | null
  price_min: number | null
  price_max: number | null
  area_min: number | null
  area_max: number | null
  district: string | null
  /** Any of these stations (empty = no metro filter). */
  metro: string[]
  residential_complex: string | null
  street: string | null
  /** With `street`: any of these house numbers (empty = the whole street). */
  house_numbers: string[]
  center: { lat: number; lon: number; radius_km: number } | null
  floor_rule: FloorRule | null
  limit: number
  /** 1-based results page. */
  page: number
}

/** A query that matches everything of the region and deal type; steps narrow it. */
export function baseQuery(region: string, deal_type: 'sale' | 'rent'): AnalogQuery {
  return {
    region,
    cian_location: null,
    deal_type,
    property_type: null,
    market: null,
    rooms: null,
    price_min: null,
    price_max: null,
    area_min: null,
    area_max: null,
    district: null,
    metro: [],
    residential_complex: null,
    street: null,
    house_numbers: [],
    center: null,
    floor_rule: null,
    limit: 50,
    page: 1,
  }
}

export type Tolerance = { price: number; area: number }

/**
 * Search tolerances by the target's price segment (the original's table): dearer flats are rarer
 * and more uniform per m², so the window narrows as the price grows.
 */
export function segmentTolerance(price: number | null): Tolerance {
  if (price === null) return { price: 0.4, area: 0.3 }
  if (price >= 300_000_000) return { price: 0.15, area: 0.1 }
  if (price >= 100_000_000) return { price: 0.2, area: 0.15 }
  if (price >= 25_000_000) return { price: 0.25, area: 0.2 }
  return { price: 0.4, area: 0.3 }
}

/** Rooms ±1 as the original relaxed it: 1 → studio..2, 2–4 → ±1, 5+ → 4..6. */
export function relaxedRooms(rooms: number): RoomsRange {
  if (rooms <= 1) return { min: 0, max: 2 }
  if (rooms >= 5) return { min: 4, max: 6 }
  return { min: rooms - 1, max: rooms + 1 }
}

/**
 * New building, after the original's detection: market says so, or the URL is a `newobject` one,
 * or the completion / build year is this year, in the future or within the last 2 years.
 */
export function isNewBuilding(p: Property, currentYear: number): boolean {
  if (p.market === 'new_building') return true
  if (p.market === 'secondary') return false
  if (/newobject/i.test(p.url)) return true
  const year = p.completion_year ?? p.year_built
  return year !== null && year >= currentYear - 2
}

/** The target's floor zone → the floor rule of the main query. */
export function floorRuleFor(p: Pick<Property, 'floor' | 'floors_total'>): FloorRule | null {
  if (p.floor === null || p.floors_total === null || p.floors_total < 3) return null
  if (p.floor <= 1) return 'first'
  if (p.floor >= p.floors_total) return 'last'
  return 'not_first_not_last'
}

/** The main query: exact rooms, segment tolerances around price and area, same market. */
export function mainQueryFor(target: Property, currentYear: number): AnalogQuery | null {
  const region = resolveRegion(target)
  if (region === null) return null
  const q = baseQuery(region, target.deal_type ?? 'sale')
  q.cian_location = cianLocationFor(target)
  const tol = segmentTolerance(target.deal_type === 'rent' ? null : target.price)
  q.property_type = target.property_type ?? 'flat'
  q.market = target.deal_type === 'rent' ? null : isNewBuilding(target, currentYear) ? 'new_building' : 'secondary'
  q.rooms = target.rooms === null ? null : { min: target.rooms, max: target.rooms }
  q.floor_rule = floorRuleFor(target)
  if (target.price !== null) {
    q.price_min = Math.round(target.price * (1 - tol.price))
    q.price_max = Math.round(target.price * (1 + tol.price))
  }
  if (target.total_area !== null) {
    q.area_min = round1(target.total_area * (1 - tol.area))
    q.area_max = round1(target.total_area * (1 + tol.area))
  }
  return q
}

/** Street and house number: from the parser's characteristics, else the tail of the address. */
export function streetAndHouse(p: Pick<Property, 'address' | 'characteristics'>): {
  street: string | null
  house: string | null
} {
  if (p.characteristics.street) {
    return { street: p.characteristics.street, house: p.characteristics.house ?? null }
  }
  const parts = (p.address ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const houseIdx = findLastIndex(parts, (s) => HOUSE_RE.test(s))
  if (houseIdx <= 0) return { street: null, house: null }
  const street = parts[houseIdx - 1]
  if (street.startsWith('м. ') || /^р-н\s/.test(street)) return { street: null, house: null }
  return { street, house: parts[houseIdx].replace(/^(д\.|дом)\s*/i, '') }
}

const HOUSE_RE = /^(д\.\s*|дом\s+)?\d+[а-яa-z]?(\s*(к|корп\.?|с|стр\.?|лит\.?)\s*\d*[а-яa-z]?)*$/i

/**
 * House numbers to try around `house`: itself, its корпус/литера variants, and ±`spread`
 * neighbours (the original's "4 → 4, 4к1…4к4, 4а, 5, 3").
 */
export function neighbouringHouseNumbers(house: string, spread = 2): string[] {
  const m = /^(\d+)/.exec(house.trim())
  if (!m) return [house]
  const n = Number(m[1])
  const out = new Set<string>([normHouse(house)])
  for (let d = 0; d <= spread; d++) {
    for (const k of d === 0 ? [n] : [n - d, n + d]) {
      if (k <= 0) continue
      out.add(String(k))
      for (const suffix of ['к1', 'к2', 'к3', 'к4', 'а', 'б', 'с1']) out.add(`${k}${suffix}`)
    }
  }
  return [...out]
}

export function normHouse(h: string): string {
  return h.toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, '').replace(/корп\.?|корпус/g, 'к').replace(/стр\.?|строение/g, 'с')
}

/** Lower-case, ё→е, collapsed spaces: the comparison form of names. */
export function normName(s: string): string {
  return s.toLowerCase().replace(/ё/g, 'е').replace(/[«»"]/g, '').replace(/\s+/g, ' ').trim()
}

/** Great-circle distance in km. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 6371.0088 * 2 * Math.asin(Math.min(1, Math.sqrt(a)))
}

/**
 * Does `p` satisfy `q`? The reference semantics: a filter on a field the listing lacks excludes
 * the listing (a source cannot claim a match it cannot see). `limit`/`page` are not filters.
 */
export function matchesQuery(p: Property, q: AnalogQuery): boolean {
  if (resolveRegion(p) !== q.region) return false
  if (p.deal_type !== q.deal_type) return false
  if (q.property_type !== null && p.property_type !== q.property_type) return false
  if (q.market !== null && p.market !== q.market) return false
  if (q.rooms !== null && (p.rooms === null || p.rooms < q.rooms.min || p.rooms > q.rooms.max)) return false
  if (!inRange(p.price, q.price_min, q.price_max)) return false
  if (!inRange(p.total_area, q.area_min, q.area_max)) return false
  if (q.district !== null && (p.district === null || normName(p.district) !== normName(q.district))) return false
  if (q.metro.length > 0) {
    const wanted = new Set(q.metro.map(normName))
    if (!p.metro.some((m) => wanted.has(normName(m)))) return false
  }
  if (q.residential_complex !== null) {
    if (p.residential_complex === null || !sameComplex(p.residential_complex, q.residential_complex)) return false
  }
  if (q.street !== null) {
    const { street, house } = streetAndHouse(p)
    if (street === null || normName(street) !== normName(q.street)) return false
    if (q.house_numbers.length > 0) {
      const wanted = new Set(q.house_numbers.map(normHouse))
      if (house === null || !wanted.has(normHouse(house))) return false
    }
  }
  if (q.center !== null) {
    if (p.lat === null || p.lon === null) return false
    if (haversineKm(q.center.lat, q.center.lon, p.lat, p.lon) > q.center.radius_km) return false
  }
  if (q.floor_rule !== null) {
    if (p.floor === null || p.floors_total === null) return false
    const first = p.floor <= 1
    const last = p.floor >= p.floors_total
    if (q.floor_rule === 'first' && !first) return false
    if (q.floor_rule === 'last' && !last) return false
    if (q.floor_rule === 'not_first_not_last' && (first || last)) return false
  }
  return true
}

/** ЖК names match when one contains the other ("Union Park" ⊂ "Union Park (Юнион Парк)"). */
export function sameComplex(a: string, b: string): boolean {
  const x = normName(a).replace(/^жк\s+/, '')
  const y = normName(b).replace(/^жк\s+/, '')
  return x !== '' && y !== '' && (x.includes(y) || y.includes(x))
}

function inRange(v: number | null, min: number | null, max: number | null): boolean {
  if (min === null && max === null) return true
  if (v === null) return false
  return (min === null || v >= min) && (max === null || v <= max)
}

function round1(n: number): number {
  return Math.round(n * 10) / 10
}

function findLastIndex<T>(xs: T[], pred: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i])) return i
  return -1
}
