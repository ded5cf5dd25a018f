/**
 * @module Guards every analog candidate passes before it may be ranked (the original's batch
 * validation), each failure named by a reason code so the report can say why a listing was left out.
 */
import type { Property } from '../parse/property.ts'
import { normName } from './query.ts'
import { resolveRegion } from './regions.ts'

export type RejectReason =
  /** The candidate is the target (same URL, or same source + offer id, or same address+area+floor). */
  | 'target_itself'
  /** Same URL as a candidate already kept. */
  | 'duplicate_url'
  /** Same address, area and floor as a candidate already kept: the same flat listed twice. */
  | 'duplicate_listing'
  /** The candidate's region is not the target's. */
  | 'other_region'
  /** The candidate's region cannot be told (the original dropped these too). */
  | 'unknown_region'
  /** Sale vs rent, or another property type. */
  | 'other_deal_type'
  | 'other_property_type'
  /** No price or no total area: nothing to compare per m². */
  | 'missing_price'
  | 'missing_area'
  /** max(price)/min(price) beyond the limit. */
  | 'price_ratio'
  /** max(area)/min(area) beyond the limit. */
  | 'area_ratio'
  /** |ppsm(candidate) / ppsm(target) − 1| beyond the limit. */
  | 'price_per_sqm_deviation'

/** A left-out candidate; its deal type and city let the wizard say what the search found instead. */
export type Rejection = {
  url: string
  offer_id: string | null
  reason: RejectReason
  deal_type: Property['deal_type']
  city: string | null
}

export type GuardLimits = {
  maxPriceRatio: number
  maxAreaRatio: number
  /** As a fraction: 0.3 = 30 %. */
  maxPricePerSqmDeviation: number
}

/** The original's sanity limits for ordinary searches. */
export const STRICT_LIMITS: GuardLimits = Object.freeze({
  maxPriceRatio: 3,
  maxAreaRatio: 1.5,
  maxPricePerSqmDeviation: 0.3,
})

/**
 * Inside one ЖК the search has no area/room filter (price per m² is what matters there), so the
 * original relaxed the limits to 5 / 3 / 40 %.
 */
export const COMPLEX_LIMITS: GuardLimits = Object.freeze({
  maxPriceRatio: 5,
  maxAreaRatio: 3,
  maxPricePerSqmDeviation: 0.4,
})

/** The URL without query, hash, `www.` and trailing slash: what "same URL" means. */
export function urlKey(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname.replace(/^www\./, '')}${u.pathname.replace(/\/+$/, '')}`.toLowerCase()
  } catch {
    return url.trim().toLowerCase()
  }
}

/** address + area + floor, or null when any of them is unknown (then no listing-level dedupe). */
export function listingKey(p: Pick<Property, 'address' | 'total_area' | 'floor'>): string | null {
  if (p.address === null || p.total_area === null || p.floor === null) return null
  const address = normName(p.address).replace(/[.,]/g, ' ').replace(/\s+/g, ' ')
  return `${address}|${p.total_area.toFixed(1)}|${p.floor}`
}

export function isSameListing(a: Property, b: Property): boolean {
  if (urlKey(a.url) === urlKey(b.url)) return true
  if (a.offer_id !== null && a.offer_id === b.offer_id && a.source === b.source) return true
  const ka = listingKey(a)
  return ka !== null && ka === listingKey(b)
}

/** ratio ≥ 1 of two positive numbers. */
function spread(a: number, b: number): number {
  return Math.max(a, b) / Math.min(a, b)
}

function ppsm(p: Property): number | null {
  if (p.price === null || p.total_area === null || p.total_area <= 0) return null
  return p.price / p.total_area
}

/**
 * Why `candidate` cannot be an analog of `target`, or null when it can. Duplicate checks are not
 * here (they need the batch); see `applyGuards`. A target without region/price/area skips the
 * checks it has no value for; a candidate without them is dropped.
 */
export function checkCandidate(target: Property, candidate: Property, limits: GuardLimits = STRICT_LIMITS): RejectReason | null {
  if (isSameListing(target, candidate)) return 'target_itself'
  const targetRegion = resolveRegion(target)
  if (targetRegion !== null) {
    const region = resolveRegion(candidate)
    if (region === null) return 'unknown_region'
    if (region !== targetRegion) return 'other_region'
  }
  if (target.deal_type !== null && candidate.deal_type !== null && candidate.deal_type !== target.deal_type) {
    return 'other_deal_type'
  }
  if (target.property_type !== null && candidate.property_type !== null && candidate.property_type !== target.property_type) {
    return 'other_property_type'
  }
  if (candidate.price === null || candidate.price <= 0) return 'missing_price'
  if (candidate.total_area === null) return 'missing_area'
  if (target.price !== null && target.price > 0 && spread(target.price, candidate.price) > limits.maxPriceRatio) {
    return 'price_ratio'
  }
  if (target.total_area !== null && spread(target.total_area, candidate.total_area) > limits.maxAreaRatio) {
    return 'area_ratio'
  }
  const t = ppsm(target)
  const c = ppsm(candidate)
  if (t !== null && c !== null && Math.abs(c / t - 1) > limits.maxPricePerSqmDeviation) {
    return 'price_per_sqm_deviation'
  }
  return null
}

/**
 * Runs every guard over a batch. `alreadyKept` are analogs accepted earlier (another search step):
 * a candidate equal to one of them is skipped silently when it is the very same URL (re-found by a
 * wider step) and rejected as a duplicate listing when it is the same flat under another URL.
 */
export function applyGuards(
  target: Property,
  candidates: readonly Property[],
  { limits = STRICT_LIMITS, alreadyKept = [] }: { limits?: GuardLimits; alreadyKept?: readonly Property[] } = {},
): { kept: Property[]; rejected: Rejection[]; refound: number } {
  const seenUrls = new Set(alreadyKept.map((p) => urlKey(p.url)))
  const seenListings = new Set(alreadyKept.map(listingKey).filter((k): k is string => k !== null))
  const batchUrls = new Set<string>()
  const kept: Property[] = []
  const rejected: Rejection[] = []
  let refound = 0
  const reject = (p: Property, reason: RejectReason) =>
    rejected.push({ url: p.url, offer_id: p.offer_id, reason, deal_type: p.deal_type, city: p.city })
  for (const c of candidates) {
    const u = urlKey(c.url)
    if (seenUrls.has(u)) {
      refound++
      continue
    }
    const reason = checkCandidate(target, c, limits)
    if (reason !== null) {
      reject(c, reason)
      continue
    }
    if (batchUrls.has(u)) {
      reject(c, 'duplicate_url')
      continue
    }
    const lk = listingKey(c)
    if (lk !== null && seenListings.has(lk)) {
      reject(c, 'duplicate_listing')
      continue
    }
    batchUrls.add(u)
    if (lk !== null) seenListings.add(lk)
    kept.push(c)
  }
  return { kept, rejected, refound }
}
