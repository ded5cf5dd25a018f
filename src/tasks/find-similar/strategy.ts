/**
 * @module Analog search strategies over an abstract AnalogSource.
 *
 * A strategy is a ladder of search steps, each a plain AnalogQuery built from the target. Every
 * step's results pass the guards (guards.ts) against the target and against what earlier steps
 * kept; the ladder stops as soon as there are enough analogs, and everything kept is ranked
 * (rank.ts) at the end.
 *
 * `auto` is the original's widening ladder:
 *   same_complex → same_building → same_street (houses ±2 with корпус/литера variants)
 *   → main (exact rooms, segment tolerances, same market, the target's station, floor rule;
 *           re-run without the floor rule when it finds nothing)
 *   → neighbouring_metro (adjacent stations, metro.ts) → district → citywide (rooms ±1).
 *
 * Stopping rule ("enough"): after a same-ЖК or same-building step, min(limit, 5) analogs are
 * enough — inside one complex price per m² is directly comparable, and the original stopped at 5
 * there; after any other step, `limit` analogs are enough (default limit 10 = the original's
 * "preferred" count). Steps whose target data is missing (no ЖК, no street, no coordinates, no
 * metro) are recorded as skipped, never guessed.
 */
import type { Property } from '../parse/property.ts'
import { applyGuards, COMPLEX_LIMITS, type GuardLimits, type Rejection, STRICT_LIMITS } from './guards.ts'
import { neighbouringStations } from './metro.ts'
import { type AnalogQuery, baseQuery, mainQueryFor, neighbouringHouseNumbers, relaxedRooms, streetAndHouse } from './query.ts'
import { rankAnalogs, type RankedAnalog } from './rank.ts'
import { missingRegionFacts, resolveRegion } from './regions.ts'

export const STRATEGIES = ['same_building', 'same_complex', 'nearby', 'district', 'citywide', 'auto'] as const
export type Strategy = (typeof STRATEGIES)[number]

/** Anything that can answer an AnalogQuery: live cian search, SQL over stored listings, a list. */
export interface AnalogSource {
  search(query: AnalogQuery, signal?: AbortSignal): Promise<Property[]>
}

export type StepName =
  | 'same_complex'
  | 'same_building'
  | 'same_street'
  | 'nearby'
  | 'main'
  | 'main_relaxed'
  | 'neighbouring_metro'
  | 'district'
  | 'citywide'

export type SearchStep = {
  name: StepName
  /** null when skipped. */
  query: AnalogQuery | null
  /** Why the step did not run (Russian, for the progress line), or null. */
  skipped: string | null
  found: number
  kept: number
  rejected: number
  /** Analogs kept by this and all earlier steps. */
  total_kept: number
}

export type FindAnalogsResult = {
  analogs: RankedAnalog[]
  rejected: Rejection[]
  steps: SearchStep[]
}

export type FindAnalogsOptions = {
  /** How many analogs to return; default 10. */
  limit?: number
  signal?: AbortSignal
  /** Called after every step (ran or skipped), e.g. to report progress. */
  onStep?: (step: SearchStep) => void | Promise<void>
  /** Decides new-building status; defaults to this year. */
  currentYear?: number
}

/** Within this radius the `nearby` step looks for analogs. */
export const NEARBY_RADIUS_KM = 1.5
/** Enough analogs after a same-ЖК / same-building step (the original's level-0 minimum). */
export const MIN_SAME_COMPLEX = 5

/** The steps each strategy runs, in order. */
export const STRATEGY_STEPS: Record<Strategy, readonly StepName[]> = {
  same_building: ['same_building'],
  same_complex: ['same_complex'],
  nearby: ['nearby', 'same_street'],
  district: ['district'],
  citywide: ['citywide'],
  auto: ['same_complex', 'same_building', 'same_street', 'main', 'neighbouring_metro', 'district', 'citywide'],
}

type Built = { query: AnalogQuery; limits: GuardLimits } | { skip: string }

/** The query of one step for a target (or why it cannot be built). Exported for the SQL/live sources' tests. */
export function buildStepQuery(target: Property, step: StepName, perStep: number, currentYear: number): Built {
  const main = mainQueryFor(target, currentYear)
  if (main === null) return { skip: 'регион объекта не определён' }
  main.limit = perStep
  const loose: AnalogQuery = { ...main, floor_rule: null }
  const { street, house } = streetAndHouse(target)
  const anyRooms: AnalogQuery = {
    ...baseQuery(main.region, main.deal_type),
    cian_location: main.cian_location,
    property_type: main.property_type,
    market: main.market,
    limit: perStep,
  }
  switch (step) {
    case 'same_complex':
      if (target.residential_complex === null) return { skip: 'ЖК объекта неизвестен' }
      // Inside one complex price per m² is what matters: no area or room filter.
      return { query: { ...anyRooms, residential_complex: target.residential_complex }, limits: COMPLEX_LIMITS }
    case 'same_building':
      if (street === null || house === null) return { skip: 'адрес дома объекта неизвестен' }
      return { query: { ...anyRooms, street, house_numbers: [house] }, limits: COMPLEX_LIMITS }
    case 'same_street':
      if (street === null) return { skip: 'улица объекта неизвестна' }
      return {
        query: { ...loose, street, house_numbers: house === null ? [] : neighbouringHouseNumbers(house, 2) },
        limits: STRICT_LIMITS,
      }
    case 'nearby':
      if (target.lat === null || target.lon === null) return { skip: 'нет координат объекта' }
      return {
        query: { ...loose, center: { lat: target.lat, lon: target.lon, radius_km: NEARBY_RADIUS_KM } },
        limits: STRICT_LIMITS,
      }
    case 'main':
    case 'main_relaxed': {
      const q = step === 'main' ? { ...main } : { ...loose }
      if (target.metro.length > 0) q.metro = [target.metro[0]]
      else if (target.district !== null) q.district = target.district
      else return { skip: 'нет ни метро, ни района объекта' }
      return { query: q, limits: STRICT_LIMITS }
    }
    case 'neighbouring_metro': {
      const near = neighbouringStations(main.region, target.metro.slice(0, 1))
      if (near.length === 0) return { skip: 'соседние станции метро неизвестны' }
      return { query: { ...loose, metro: near }, limits: STRICT_LIMITS }
    }
    case 'district':
      if (target.district === null) return { skip: 'район объекта неизвестен' }
      return { query: { ...loose, district: target.district }, limits: STRICT_LIMITS }
    case 'citywide':
      return {
        query: { ...loose, rooms: target.rooms === null ? null : relaxedRooms(target.rooms) },
        limits: STRICT_LIMITS,
      }
  }
}

/** Runs a strategy against a source and returns ranked analogs, rejections and the step log. */
export async function findAnalogs(
  target: Property,
  strategy: Strategy,
  source: AnalogSource,
  { limit = 10, signal, onStep, currentYear = new Date().getFullYear() }: FindAnalogsOptions = {},
): Promise<FindAnalogsResult> {
  const perStep = Math.max(limit * 3, 30)
  const kept: Property[] = []
  const rejected: Rejection[] = []
  const steps: SearchStep[] = []
  const ladder = [...STRATEGY_STEPS[strategy]]
  if (resolveRegion(target) === null) {
    const skipped = `регион объекта не определён: нет ${missingRegionFacts(target).join(', ')}`
    const step: SearchStep = { name: ladder[0], query: null, skipped, found: 0, kept: 0, rejected: 0, total_kept: 0 }
    steps.push(step)
    await onStep?.(step)
    return { analogs: [], rejected, steps }
  }
  for (let i = 0; i < ladder.length; i++) {
    signal?.throwIfAborted()
    const name = ladder[i]
    const built = buildStepQuery(target, name, perStep, currentYear)
    let step: SearchStep
    if ('skip' in built) {
      step = { name, query: null, skipped: built.skip, found: 0, kept: 0, rejected: 0, total_kept: kept.length }
    } else {
      const found = await source.search(built.query, signal)
      const batch = applyGuards(target, found, { limits: built.limits, alreadyKept: kept })
      kept.push(...batch.kept)
      rejected.push(...batch.rejected)
      step = {
        name,
        query: built.query,
        skipped: null,
        found: found.length,
        kept: batch.kept.length,
        rejected: batch.rejected.length,
        total_kept: kept.length,
      }
      // The original's fallback: a main query that finds nothing is re-run without the floor rule.
      if (name === 'main' && found.length === 0 && built.query.floor_rule !== null) ladder.splice(i + 1, 0, 'main_relaxed')
    }
    steps.push(step)
    await onStep?.(step)
    const enough = name === 'same_complex' || name === 'same_building' ? Math.min(limit, MIN_SAME_COMPLEX) : limit
    if (step.skipped === null && kept.length >= enough) break
  }
  return { analogs: rankAnalogs(target, kept, limit), rejected, steps }
}
