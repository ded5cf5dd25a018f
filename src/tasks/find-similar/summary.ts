/**
 * @module Why a search found what it found: per-step counts, rejections by reason and what the
 * rejected listings were (deal type, city), so the wizard can say «нашли 57 объявлений, но все —
 * аренда в Москве» instead of «нет аналогов», and suggest a wider search only when one exists.
 */
import type { Property } from '../parse/property.ts'
import type { RejectReason, Rejection } from './guards.ts'
import { cianLocationFor, findRegion, missingRegionFacts, resolveRegion } from './regions.ts'
import type { SearchStep, StepName, Strategy } from './strategy.ts'

/** Russian names of the steps: internal names never reach the page. */
export const STEP_LABELS: Record<StepName, string> = {
  same_complex: 'в том же ЖК',
  same_building: 'в том же доме',
  same_street: 'на той же улице',
  nearby: 'рядом',
  main: 'у той же станции метро или в том же районе',
  main_relaxed: 'у той же станции, без условия об этаже',
  neighbouring_metro: 'у соседних станций метро',
  district: 'в том же районе',
  citywide: 'по всему городу',
}

/** The next wider strategy, or null when the search already was the widest. */
const WIDER: Record<Strategy, Strategy | null> = {
  same_building: 'nearby',
  same_complex: 'nearby',
  nearby: 'district',
  district: 'citywide',
  citywide: null,
  auto: null,
}

export type SearchSummary = {
  region: {
    code: string | null
    city: string | null
    /** The cian location searched live, or null when cian has no id for it. */
    searched_in: { level: 'city' | 'oblast'; name: string | null; cian_id: number } | null
    /** Russian genitive phrases of the facts a listing lacked to tell its region (empty when known). */
    missing_facts: string[]
  }
  /** Steps that ran (not skipped). `found` and the rejections leave out the target itself found again. */
  searched: number
  found: number
  kept: number
  rejected: number
  rejected_by_reason: Partial<Record<RejectReason, number>>
  /** What the rejected listings were: counts by deal type and by city. */
  rejected_deal_types: Partial<Record<'sale' | 'rent', number>>
  rejected_cities: Record<string, number>
  steps: Array<{ name: StepName; label: string; skipped: string | null; found: number; kept: number; rejected: number }>
  /** A wider strategy whose steps have not run yet, or null. */
  wider_strategy: Strategy | null
  /** Plain-Russian notes: a region not covered by the live search, a site that blocked us. */
  notices: string[]
}

export function summarizeSearch(
  target: Property,
  strategy: Strategy,
  steps: readonly SearchStep[],
  rejected: readonly Rejection[],
  notices: readonly string[],
): SearchSummary {
  const code = resolveRegion(target)
  const location = code === null ? null : cianLocationFor(target)
  // The target found again (the store holds it once parsed) is not a listing the search found.
  const itself = rejected.filter((r) => r.reason === 'target_itself').length
  const others = rejected.filter((r) => r.reason !== 'target_itself')
  const byReason: Partial<Record<RejectReason, number>> = {}
  const dealTypes: Partial<Record<'sale' | 'rent', number>> = {}
  const cities: Record<string, number> = {}
  for (const r of others) {
    byReason[r.reason] = (byReason[r.reason] ?? 0) + 1
    if (r.deal_type) dealTypes[r.deal_type] = (dealTypes[r.deal_type] ?? 0) + 1
    if (r.city) cities[r.city] = (cities[r.city] ?? 0) + 1
  }
  const ran = steps.filter((s) => s.skipped === null)
  const wider = WIDER[strategy]
  return {
    region: {
      code,
      city: target.city ?? findRegion(code)?.name ?? null,
      searched_in: location === null ? null : { level: location.level, name: location.name, cian_id: location.id },
      missing_facts: missingRegionFacts(target),
    },
    searched: ran.length,
    found: ran.reduce((n, s) => n + s.found, 0) - itself,
    kept: ran.reduce((n, s) => n + s.kept, 0),
    rejected: others.length,
    rejected_by_reason: byReason,
    rejected_deal_types: dealTypes,
    rejected_cities: cities,
    steps: steps.map((s) => ({ name: s.name, label: STEP_LABELS[s.name], skipped: s.skipped, found: s.found, kept: s.kept, rejected: s.rejected })),
    wider_strategy: code === null ? null : wider === 'district' && target.district === null ? 'citywide' : wider,
    notices: [...notices],
  }
}
