/**
 * @module Similarity of an analog to the target, with the reasons in Russian for the report.
 *
 * The score is a weighted mean over the components BOTH listings have data for (a missing year
 * neither helps nor hurts), each component in 0..1:
 *
 * | component      | weight | 1.0 when …                         | 0 when …                    |
 * |----------------|--------|------------------------------------|-----------------------------|
 * | price per m²   | 0.25   | equal                              | ≥ 30 % apart                |
 * | total area     | 0.15   | equal                              | ≥ 50 % apart                |
 * | rooms          | 0.15   | same count (±1 → 0.4)              | 2+ apart                    |
 * | distance       | 0.15   | same point                         | ≥ 5 km                      |
 * | same ЖК        | 0.10   | same residential complex           | target's ЖК known, other    |
 * | same house     | 0.05   | same street and house number       | otherwise (street known)    |
 * | metro          | 0.05   | shares a station                   | no common station           |
 * | district       | 0.03   | same district                      | other district              |
 * | floor zone     | 0.04   | same zone (first / middle / top)   | other zone                  |
 * | year built     | 0.03   | same year                          | ≥ 30 years apart            |
 *
 * Price per m² leads because the valuation is a per-m² median; location follows because analogs are
 * chosen to share the fixed (unadjusted) parameters such as location.
 */
import type { Property } from '../parse/property.ts'
import { applyGuards, type GuardLimits, type Rejection, STRICT_LIMITS } from './guards.ts'
import { haversineKm, normHouse, normName, sameComplex, streetAndHouse } from './query.ts'

export type RankedAnalog = Property & {
  /** 0..1, see the table above. */
  similarity: number
  /** Great-circle km between target and analog; null without both coordinates. */
  distance_km: number | null
  /** Why it was chosen, in Russian ("тот же ЖК", "площадь +4 %", …). */
  reasons: string[]
}

export const SIMILARITY_WEIGHTS = Object.freeze({
  price_per_sqm: 0.25,
  area: 0.15,
  rooms: 0.15,
  distance: 0.15,
  complex: 0.1,
  house: 0.05,
  metro: 0.05,
  district: 0.03,
  floor_zone: 0.04,
  year_built: 0.03,
})

type FloorZone = 'first' | 'middle' | 'top'

export function floorZone(p: Pick<Property, 'floor' | 'floors_total'>): FloorZone | null {
  if (p.floor === null || p.floors_total === null) return null
  if (p.floor <= 1) return 'first'
  if (p.floor >= p.floors_total) return 'top'
  return 'middle'
}

const ZONE_WORDS: Record<FloorZone, string> = { first: 'тоже первый этаж', middle: 'тоже средний этаж', top: 'тоже последний этаж' }

/** Scores one (already guarded) candidate against the target. */
export function scoreAnalog(target: Property, c: Property): RankedAnalog {
  const W = SIMILARITY_WEIGHTS
  let sum = 0
  let weight = 0
  const reasons: string[] = []
  const add = (w: number, s: number) => {
    sum += w * Math.max(0, Math.min(1, s))
    weight += w
  }

  const complexMatch =
    target.residential_complex !== null && c.residential_complex !== null && sameComplex(target.residential_complex, c.residential_complex)
  if (target.residential_complex !== null) {
    add(W.complex, complexMatch ? 1 : 0)
    if (complexMatch) reasons.push(`тот же ЖК «${target.residential_complex}»`)
  }

  const t = streetAndHouse(target)
  const a = streetAndHouse(c)
  if (t.street !== null && a.street !== null) {
    const sameStreet = normName(t.street) === normName(a.street)
    const sameHouse = sameStreet && t.house !== null && a.house !== null && normHouse(t.house) === normHouse(a.house)
    add(W.house, sameHouse ? 1 : sameStreet ? 0.5 : 0)
    if (sameHouse) reasons.push('тот же дом')
    else if (sameStreet) reasons.push(`та же улица (${a.street})`)
  }

  let distance_km: number | null = null
  if (target.lat !== null && target.lon !== null && c.lat !== null && c.lon !== null) {
    const d = haversineKm(target.lat, target.lon, c.lat, c.lon)
    distance_km = round(d, 2)
    add(W.distance, 1 - d / 5)
    if (d < 1) reasons.push(`в ${Math.round(d * 1000)} м от объекта`)
    else if (d <= 3) reasons.push(`в ${d.toFixed(1).replace('.', ',')} км от объекта`)
  }

  if (target.metro.length > 0 && c.metro.length > 0) {
    const mine = new Set(target.metro.map(normName))
    const common = c.metro.find((m) => mine.has(normName(m)))
    add(W.metro, common ? 1 : 0)
    if (common) reasons.push(`та же станция метро (${common})`)
  }

  if (target.district !== null && c.district !== null) {
    const same = normName(target.district) === normName(c.district)
    add(W.district, same ? 1 : 0)
    if (same) reasons.push(`тот же район (${c.district})`)
  }

  const tp = ppsm(target)
  const cp = ppsm(c)
  if (tp !== null && cp !== null) {
    const dev = cp / tp - 1
    add(W.price_per_sqm, 1 - Math.abs(dev) / 0.3)
    if (Math.abs(dev) <= 0.1) reasons.push(`цена за м² ${signedPct(dev)}`)
  }

  if (target.total_area !== null && c.total_area !== null) {
    const dev = c.total_area / target.total_area - 1
    add(W.area, 1 - Math.abs(dev) / 0.5)
    if (Math.abs(dev) <= 0.1) reasons.push(`площадь ${signedPct(dev)}`)
  }

  if (target.rooms !== null && c.rooms !== null) {
    const diff = Math.abs(target.rooms - c.rooms)
    add(W.rooms, diff === 0 ? 1 : diff === 1 ? 0.4 : 0)
    if (diff === 0) reasons.push(target.rooms === 0 ? 'тоже студия' : `столько же комнат (${c.rooms})`)
  }

  const tz = floorZone(target)
  const cz = floorZone(c)
  if (tz !== null && cz !== null) {
    add(W.floor_zone, tz === cz ? 1 : 0)
    if (tz === cz) reasons.push(ZONE_WORDS[tz])
  }

  if (target.year_built !== null && c.year_built !== null) {
    const diff = Math.abs(target.year_built - c.year_built)
    add(W.year_built, 1 - diff / 30)
    if (diff <= 5) reasons.push(diff === 0 ? `тот же год постройки (${c.year_built})` : `год постройки ±${diff}`)
  }

  // Every analog passed the search filters and the sanity guards; say so when nothing closer stands out,
  // so the user always sees why a listing is in the table.
  if (reasons.length === 0) reasons.push('подходит по фильтрам поиска: цена и площадь в допустимых пределах')
  const similarity = weight === 0 ? 0 : round(sum / weight, 3)
  return { ...c, similarity, distance_km, reasons }
}

/** Scores and orders guarded candidates: most similar first, ties by closer price per m². */
export function rankAnalogs(target: Property, candidates: readonly Property[], limit: number): RankedAnalog[] {
  const tp = ppsm(target)
  const closeness = (p: Property) => {
    const cp = ppsm(p)
    return tp === null || cp === null ? Infinity : Math.abs(cp / tp - 1)
  }
  return candidates
    .map((c) => scoreAnalog(target, c))
    .sort((x, y) => y.similarity - x.similarity || closeness(x) - closeness(y))
    .slice(0, Math.max(0, limit))
}

/** Guards, then ranks: the analogs to show and every rejected candidate with its reason. */
export function selectAnalogs(
  target: Property,
  candidates: readonly Property[],
  limit: number,
  limits: GuardLimits = STRICT_LIMITS,
): { analogs: RankedAnalog[]; rejected: Rejection[] } {
  const { kept, rejected } = applyGuards(target, candidates, { limits })
  return { analogs: rankAnalogs(target, kept, limit), rejected }
}

function ppsm(p: Property): number | null {
  if (p.price === null || p.total_area === null || p.total_area <= 0) return null
  return p.price / p.total_area
}

function signedPct(dev: number): string {
  const pct = Math.round(dev * 100)
  if (pct === 0) return '±0 %'
  return `${pct > 0 ? '+' : '−'}${Math.abs(pct)} %`
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
