/**
 * @module Fair-price valuation from comparables, pure and JSON-serialisable.
 *
 * 1. validate each analog (price, area, plausibility);
 * 2. data quality: coefficient of variation (CV) of price per m²;
 * 3. IQR filter on price per m² (outside Q1 − 1.5·IQR … Q3 + 1.5·IQR) when n ≥ 5;
 * 4. base = median price per m² of what remains;
 * 5. every variable parameter on which the target differs from the analogs' median (numbers) or
 *    mode (categories) gives an independent estimate base × coef(target) / coef(analogs); the fair
 *    price per m² is the median of those estimates, or the base when none applies;
 * 6. fair total = fair per m² × target area; verdict beyond ±5 %; confidence; t-based 95 % interval;
 *    recommended price range.
 *
 * Parameters that only choose analogs (district, transport, house type, …) are never adjusted.
 * A parameter the target does not have (no ceiling height on the page and none from the user) is
 * skipped, never defaulted.
 */
import { AppError } from '../../errors.ts'
import type { Property } from '../parse/property.ts'
import { featuresOf, type Features } from './features.ts'

// ---------------------------------------------------------------- the coefficient table

/**
 * Every adjustment coefficient in one place. A coefficient is the price-per-m² multiplier of a
 * value relative to the reference value (1.00); the adjustment is coef(target) / coef(analogs).
 */
export const COEFFICIENTS = Object.freeze({
  /** Repair / finishing level, matched by keyword (Russian page wording or cian's English codes). */
  repair: [
    { level: 'без отделки', coef: 0.9, match: /черн|без\s*отдел|^no$|without/i },
    { level: 'требует ремонта', coef: 0.92, match: /требует|needs/i },
    { level: 'предчистовая', coef: 0.95, match: /предчист|white\s*box/i },
    { level: 'косметический', coef: 0.98, match: /космет|cosmetic/i },
    { level: 'стандартная', coef: 1.0, match: /стандарт|чистов|обычн|standard|fine/i },
    { level: 'евроремонт', coef: 1.06, match: /евро|euro/i },
    { level: 'премиум', coef: 1.12, match: /премиум|premium|люкс/i },
    { level: 'дизайнерский', coef: 1.18, match: /дизайн|design/i },
  ],
  /** Ceiling height (m) → coef, linear between points, flat outside: 2.5 m 0.95 … 2.7 m 1.00 … 3.0 m 1.02, capped 1.05. */
  ceiling_height: [
    [2.5, 0.95],
    [2.7, 1.0],
    [3.0, 1.02],
    [3.5, 1.05],
  ] as ReadonlyArray<readonly [number, number]>,
  /** Floor zone by position floor / floors_total: low < 30 %, high > 70 % (first floor is low). */
  floor_zone: {
    lowBelow: 0.3,
    highAbove: 0.7,
    /** Fixed rule when fewer than `adaptiveMinAnalogs` analogs: middle +4 %, low −3 %, top −2 %. */
    fixed: { low: 0.97, middle: 1.04, high: 0.98 },
    /** Adaptive rule: zone avg price/m² ÷ middle-zone avg, each zone needing `minPerZone` analogs. */
    adaptiveMinAnalogs: 5,
    minPerZone: 2,
    cap: [0.85, 1.15],
  },
  /** Total area: only when analog areas vary (CV ≥ 15 %); −8 % per +100 % vs the median area, capped ±10 %. */
  total_area: { minCv: 0.15, slope: -0.08, cap: [0.9, 1.1] },
  /** Building age: −5 % per 100 years beyond the first 10. */
  building_age: { freeYears: 10, perCentury: -0.05 },
  /** Living area share of total: > 50 % up to +8 % (reached at 70 %), < 30 % down to −8 % (at 15 %). */
  living_share: { high: 0.5, highFull: 0.7, low: 0.3, lowFull: 0.15, max: 0.08 },
  /** Bathroom count: ±5 % per bathroom more or fewer than the analogs' median, capped ±10 %. */
  bathrooms: { perBathroom: 0.05, cap: [0.9, 1.1], source: 'шкала модели Housler: ±5 % за санузел, не больше ±10 %' },
  /** A house without a passenger lift against one with it. */
  lift: { without: 0.95, with: 1.0, source: 'шкала модели Housler: дом без лифта 0,95' },
  /**
   * Facts whose price effect is measured on the analogs themselves: mean price per m² of the analogs
   * sharing the target's value ÷ mean of those with the most common value, each group needing
   * `minPerGroup` analogs, capped at ±cap. Too few analogs in a group: no adjustment.
   */
  by_analogs: {
    minPerGroup: 2,
    cap: { balcony: 0.05, bathroom_type: 0.03, parking: 0.05, view: 0.05, market: 0.15 },
    source: 'по ценам аналогов: средняя цена м² группы объекта ÷ средняя группы большинства',
  },
} as const)

/** Where each table coefficient comes from, shown beside it in the report. */
export const COEFFICIENT_SOURCES = Object.freeze({
  repair: 'шкала модели Housler: черновая 0,90 … стандартная 1,00 … дизайнерская 1,18',
  ceiling_height: 'шкала модели Housler: 2,5 м 0,95 · 2,7 м 1,00 · 3,0 м 1,02 · не выше 1,05',
  floor_zone: 'по ценам аналогов в зонах этажности; при малом числе — правило модели Housler',
  total_area: 'модель Housler: −8 % за +100 % площади к медиане, не больше ±10 %',
  building_age: 'модель Housler: −5 % за каждые 100 лет сверх 10',
  living_share: 'шкала модели Housler: доля жилой > 50 % до +8 %, < 30 % до −8 %',
  bathrooms: COEFFICIENTS.bathrooms.source,
  lift: COEFFICIENTS.lift.source,
  balcony: COEFFICIENTS.by_analogs.source,
  bathroom_type: COEFFICIENTS.by_analogs.source,
  parking: COEFFICIENTS.by_analogs.source,
  view: COEFFICIENTS.by_analogs.source,
  market: COEFFICIENTS.by_analogs.source,
} satisfies Record<AdjustmentParameter, string>)

/** Verdict threshold: beyond ±5 % of fair the asking price is over/under. */
export const VERDICT_THRESHOLD = 0.05

/** Plausibility of an analog (outside → excluded), per deal type. */
const PLAUSIBLE = {
  area: [8, 1000],
  price_per_sqm: { sale: [20_000, 5_000_000], rent: [100, 50_000] },
} as const

// ---------------------------------------------------------------- output shape

export type Verdict = 'overpriced' | 'underpriced' | 'fair'
export type QualityLevel = 'excellent' | 'good' | 'fair' | 'poor'
export type ExclusionReason =
  | 'missing_price'
  | 'missing_area'
  | 'implausible_area'
  | 'implausible_price_per_sqm'
  | 'floor_above_total'
  | 'iqr_outlier'

export type AdjustmentParameter =
  | 'repair'
  | 'ceiling_height'
  | 'floor_zone'
  | 'total_area'
  | 'building_age'
  | 'living_share'
  | 'bathrooms'
  | 'bathroom_type'
  | 'balcony'
  | 'lift'
  | 'parking'
  | 'view'
  | 'market'

export type Adjustment = {
  parameter: AdjustmentParameter
  /** Russian label for the report. */
  label: string
  target_value: string | number
  analogs_value: string | number
  coefficient: number
  estimate_per_sqm: number
  /** How the coefficient was obtained ("фиксированное правило", "по аналогам", …). */
  note: string
  /** Where the coefficient comes from (the table's source). */
  source: string
}

export type Valuation = {
  currency: string
  deal_type: 'sale' | 'rent'
  analogs_total: number
  analogs_used: number
  used_urls: string[]
  excluded: Array<{ url: string; reason: ExclusionReason }>
  price_per_sqm: {
    base_median: number
    mean: number
    min: number
    max: number
    q1: number | null
    q3: number | null
    fair: number
    asking: number | null
  }
  data_quality: {
    /** CV of price per m² of the analogs used (after the IQR filter), as a fraction. */
    cv: number
    cv_before_filter: number
    level: QualityLevel
    sufficient: boolean
    warnings: string[]
  }
  adjustments: Adjustment[]
  /** fair per m² ÷ base. */
  multiplier: number
  target_area: number
  fair_price: number
  asking_price: number | null
  /** asking ÷ fair − 1, as a fraction; null without an asking price. */
  difference: number | null
  verdict: Verdict | null
  confidence: { score: number; reasons: string[] }
  interval_95: { per_sqm: [number, number]; total: [number, number] }
  price_range: {
    quick_sale_min: number
    lower_bound: number
    fair: number
    recommended_listing: number
    upper_bound_max: number
    minimum_acceptable: number
  }
}

export type ValuationOptions = {
  /** Values the user filled in the wizard; they override the target's own. */
  overrides?: Partial<Pick<Property, 'repair' | 'ceiling_height' | 'year_built' | 'living_area' | 'floor' | 'floors_total' | 'total_area' | 'price'>>
  /** For the building age; defaults to this year. */
  currentYear?: number
}

// ---------------------------------------------------------------- the valuation

export function valuate(target: Property, comparables: readonly Property[], options: ValuationOptions = {}): Valuation {
  const t: Property = { ...target, ...stripUndefined(options.overrides ?? {}) }
  const currentYear = options.currentYear ?? new Date().getFullYear()
  if (t.total_area === null) throw new AppError('ValidationFailed', 'у объекта нет общей площади: оценка невозможна')
  const dealType = t.deal_type ?? 'sale'

  const excluded: Valuation['excluded'] = []
  const valid: Array<{ p: Property; ppsm: number }> = []
  for (const p of comparables) {
    const reason = invalidReason(p, dealType)
    if (reason) excluded.push({ url: p.url, reason })
    else valid.push({ p, ppsm: (p.price as number) / (p.total_area as number) })
  }
  if (valid.length === 0) throw new AppError('NotEnoughAnalogs', 'нет ни одного пригодного аналога для оценки')

  const cvBefore = cv(valid.map((v) => v.ppsm))
  let used = valid
  let q1: number | null = null
  let q3: number | null = null
  if (valid.length >= 5) {
    const sorted = valid.map((v) => v.ppsm).sort((a, b) => a - b)
    q1 = quantile(sorted, 0.25)
    q3 = quantile(sorted, 0.75)
    const iqr = q3 - q1
    const lo = q1 - 1.5 * iqr
    const hi = q3 + 1.5 * iqr
    used = valid.filter((v) => v.ppsm >= lo && v.ppsm <= hi)
    for (const v of valid) if (!used.includes(v)) excluded.push({ url: v.p.url, reason: 'iqr_outlier' })
  }
  const values = used.map((v) => v.ppsm)
  const base = median(values)
  const spreadCv = cv(values)
  const level: QualityLevel = spreadCv < 0.1 ? 'excellent' : spreadCv < 0.2 ? 'good' : spreadCv < 0.3 ? 'fair' : 'poor'
  const warnings: string[] = []
  if (used.length < 5) warnings.push(`мало аналогов: ${used.length} (нужно не меньше 5)`)
  if (spreadCv > 0.3) warnings.push(`большой разброс цен за м²: CV ${pct(spreadCv)}`)

  const adjustments = computeAdjustments(t, used, base, currentYear)
  const fair = adjustments.length === 0 ? base : median(adjustments.map((a) => a.estimate_per_sqm))
  const multiplier = fair / base
  const area = t.total_area
  const fairTotal = fair * area
  const asking = t.price
  const difference = asking === null ? null : asking / fairTotal - 1
  const verdict: Verdict | null =
    difference === null ? null : difference > VERDICT_THRESHOLD ? 'overpriced' : difference < -VERDICT_THRESHOLD ? 'underpriced' : 'fair'

  const n = values.length
  const sd = stdev(values)
  const half = n >= 2 ? tCritical95(n - 1) * (sd / Math.sqrt(n)) : fair * 0.1
  const perSqmLo = fair - half
  const perSqmHi = fair + half
  const lower = perSqmLo * area
  const upper = perSqmHi * area

  // Listing premium: room to bargain, less when the asking price already sits above fair.
  const premium = difference !== null && difference > VERDICT_THRESHOLD ? 0 : difference !== null && difference > 0 ? 0.03 : 0.05
  const listing = fairTotal * (1 + premium)

  return {
    currency: t.currency ?? 'RUB',
    deal_type: dealType,
    analogs_total: comparables.length,
    analogs_used: n,
    used_urls: used.map((v) => v.p.url),
    excluded,
    price_per_sqm: {
      base_median: Math.round(base),
      mean: Math.round(mean(values)),
      min: Math.round(Math.min(...values)),
      max: Math.round(Math.max(...values)),
      q1: q1 === null ? null : Math.round(q1),
      q3: q3 === null ? null : Math.round(q3),
      fair: Math.round(fair),
      asking: asking === null ? null : Math.round(asking / area),
    },
    data_quality: { cv: round(spreadCv, 4), cv_before_filter: round(cvBefore, 4), level, sufficient: warnings.length === 0, warnings },
    adjustments,
    multiplier: round(multiplier, 4),
    target_area: area,
    fair_price: Math.round(fairTotal),
    asking_price: asking,
    difference: difference === null ? null : round(difference, 4),
    verdict,
    confidence: confidenceOf(n, spreadCv, multiplier),
    interval_95: {
      per_sqm: [Math.round(perSqmLo), Math.round(perSqmHi)],
      total: [Math.round(lower), Math.round(upper)],
    },
    price_range: {
      quick_sale_min: Math.round(lower * 0.97),
      lower_bound: Math.round(lower),
      fair: Math.round(fairTotal),
      recommended_listing: Math.round(listing),
      upper_bound_max: Math.round(upper * 1.03),
      minimum_acceptable: Math.round(listing * 0.95),
    },
  }
}

function invalidReason(p: Property, dealType: 'sale' | 'rent'): ExclusionReason | null {
  if (p.price === null || p.price <= 0) return 'missing_price'
  if (p.total_area === null) return 'missing_area'
  if (p.total_area < PLAUSIBLE.area[0] || p.total_area > PLAUSIBLE.area[1]) return 'implausible_area'
  const ppsm = p.price / p.total_area
  const [lo, hi] = PLAUSIBLE.price_per_sqm[dealType]
  if (ppsm < lo || ppsm > hi) return 'implausible_price_per_sqm'
  if (p.floor !== null && p.floors_total !== null && p.floor > p.floors_total) return 'floor_above_total'
  return null
}

// ---------------------------------------------------------------- adjustments

type Used = { p: Property; ppsm: number }

function computeAdjustments(t: Property, used: Used[], base: number, currentYear: number): Adjustment[] {
  const out: Adjustment[] = []
  const push = (a: Omit<Adjustment, 'estimate_per_sqm' | 'coefficient' | 'source'> & { coefficient: number }) => {
    if (Math.abs(a.coefficient - 1) < 1e-9) return
    out.push({ ...a, coefficient: round(a.coefficient, 4), estimate_per_sqm: Math.round(base * a.coefficient), source: COEFFICIENT_SOURCES[a.parameter] })
  }

  // repair: mode over analogs
  const tRepair = repairLevel(t.repair)
  const modeRepair = mode(used.map((u) => repairLevel(u.p.repair)).filter((r) => r !== null))
  if (tRepair && modeRepair && tRepair.level !== modeRepair.level) {
    push({ parameter: 'repair', label: 'Ремонт', target_value: tRepair.level, analogs_value: modeRepair.level, coefficient: tRepair.coef / modeRepair.coef, note: 'таблица коэффициентов' })
  }

  // ceiling height: median
  const heights = used.map((u) => u.p.ceiling_height).filter(isNum)
  if (t.ceiling_height !== null && heights.length > 0) {
    const m = median(heights)
    push({ parameter: 'ceiling_height', label: 'Высота потолков', target_value: t.ceiling_height, analogs_value: round(m, 2), coefficient: ceilingCoef(t.ceiling_height) / ceilingCoef(m), note: 'таблица коэффициентов' })
  }

  // floor zone
  const tZone = zoneOf(t)
  const zoned = used.map((u) => ({ ...u, zone: zoneOf(u.p) })).filter((u): u is Used & { zone: Zone } => u.zone !== null)
  if (tZone && zoned.length > 0) {
    const F = COEFFICIENTS.floor_zone
    const modeZone = mode(zoned.map((z) => z.zone)) as Zone
    const avg = (zone: Zone) => {
      const xs = zoned.filter((z) => z.zone === zone).map((z) => z.ppsm)
      return xs.length >= F.minPerZone ? mean(xs) : null
    }
    const mid = avg('middle')
    const tAvg = avg(tZone)
    const mAvg = avg(modeZone)
    if (zoned.length >= F.adaptiveMinAnalogs && mid !== null && tAvg !== null && mAvg !== null) {
      const coef = clamp(tAvg / mid, F.cap[0], F.cap[1]) / clamp(mAvg / mid, F.cap[0], F.cap[1])
      push({ parameter: 'floor_zone', label: 'Этаж', target_value: ZONE_RU[tZone], analogs_value: ZONE_RU[modeZone], coefficient: coef, note: 'по ценам аналогов в зонах этажности' })
    } else if (tZone !== modeZone) {
      push({ parameter: 'floor_zone', label: 'Этаж', target_value: ZONE_RU[tZone], analogs_value: ZONE_RU[modeZone], coefficient: F.fixed[tZone] / F.fixed[modeZone], note: 'фиксированное правило' })
    }
  }

  // total area (adaptive): only when the analogs' areas really vary
  const areas = used.map((u) => u.p.total_area as number)
  const A = COEFFICIENTS.total_area
  if (t.total_area !== null && areas.length >= 2 && cv(areas) >= A.minCv) {
    const m = median(areas)
    const coef = clamp(1 + A.slope * (t.total_area / m - 1), A.cap[0], A.cap[1])
    push({ parameter: 'total_area', label: 'Общая площадь', target_value: t.total_area, analogs_value: round(m, 1), coefficient: coef, note: `разброс площадей аналогов CV ${pct(cv(areas))}` })
  }

  // building age: median year
  const years = used.map((u) => u.p.year_built).filter(isNum)
  if (t.year_built !== null && years.length > 0) {
    const m = median(years)
    push({ parameter: 'building_age', label: 'Год постройки', target_value: t.year_built, analogs_value: Math.round(m), coefficient: ageCoef(currentYear - t.year_built) / ageCoef(currentYear - m), note: '−5 % за 100 лет сверх 10' })
  }

  // living share: median
  const shares = used.map((u) => share(u.p)).filter(isNum)
  const tShare = share(t)
  if (tShare !== null && shares.length > 0) {
    const m = median(shares)
    push({ parameter: 'living_share', label: 'Доля жилой площади', target_value: round(tShare, 3), analogs_value: round(m, 3), coefficient: livingCoef(tShare) / livingCoef(m), note: 'таблица коэффициентов' })
  }
  for (const a of featureAdjustments(t, used)) push(a)
  return out
}

type FeatureAdjustment = Omit<Adjustment, 'estimate_per_sqm' | 'source'>

const PARKING_RU = { underground: 'подземная', multilevel: 'многоуровневая', ground: 'наземная', none: 'нет' } as const
const VIEW_RU = { yard: 'во двор', street: 'на улицу', yard_and_street: 'во двор и на улицу', park: 'на парк', water: 'на воду' } as const
const MARKET_RU = { secondary: 'вторичное жильё', new_building: 'новостройка' } as const

/** Amenities (features.ts): each only where the target and enough analogs state the fact. */
function featureAdjustments(t: Property, used: Used[]): FeatureAdjustment[] {
  const tf = featuresOf(t)
  const withFeatures = used.map((u) => ({ ...u, f: featuresOf(u.p) }))
  const out: FeatureAdjustment[] = []

  const counts = withFeatures.map((u) => u.f.bathrooms).filter((n): n is number => n !== null && n > 0)
  if (tf.bathrooms !== null && tf.bathrooms > 0 && counts.length > 0) {
    const m = median(counts)
    out.push({ parameter: 'bathrooms', label: 'Санузлы, шт.', target_value: tf.bathrooms, analogs_value: m, coefficient: bathroomCoef(tf.bathrooms, m), note: 'таблица коэффициентов' })
  }
  const lifts = withFeatures.map((u) => u.f.lift).filter((x): x is boolean => x !== null)
  const modeLift = mode(lifts)
  if (tf.lift !== null && modeLift !== null && tf.lift !== modeLift) {
    const L = COEFFICIENTS.lift
    const coef = (tf.lift ? L.with : L.without) / (modeLift ? L.with : L.without)
    out.push({ parameter: 'lift', label: 'Лифт', target_value: tf.lift ? 'есть' : 'нет', analogs_value: modeLift ? 'есть' : 'нет', coefficient: coef, note: 'таблица коэффициентов' })
  }

  const C = COEFFICIENTS.by_analogs.cap
  const adaptive = <K extends string>(parameter: FeatureAdjustment['parameter'], label: string, cap: number, keyOf: (f: Features) => K | null, names: Record<K, string>) => {
    const hit = groupRatio(tf, withFeatures, keyOf, cap)
    if (hit) out.push({ parameter, label, target_value: names[hit.target], analogs_value: names[hit.usual], coefficient: hit.coef, note: hit.note })
  }
  const yesNo = { yes: 'есть', no: 'нет' }
  adaptive('balcony', 'Балкон или лоджия', C.balcony, (f) => (f.balconies === null ? null : f.balconies > 0 ? 'yes' : 'no'), yesNo)
  adaptive('bathroom_type', 'Санузел', C.bathroom_type, (f) => (f.bathroomSeparate === null ? null : f.bathroomSeparate ? 'separate' : 'combined'), { separate: 'раздельный', combined: 'совмещённый' })
  adaptive('parking', 'Парковка', C.parking, (f) => f.parking, PARKING_RU)
  adaptive('view', 'Вид из окон', C.view, (f) => f.view, VIEW_RU)
  adaptive('market', 'Тип рынка', C.market, (f) => f.market, MARKET_RU)
  return out
}

export function bathroomCoef(target: number, analogsMedian: number): number {
  const B = COEFFICIENTS.bathrooms
  return clamp(1 + B.perBathroom * (target - analogsMedian), B.cap[0], B.cap[1])
}

/**
 * The price effect of a categorical fact measured on the analogs: mean price per m² of the analogs
 * with the target's value ÷ that of the most common value; null when the target has the common
 * value or either group is smaller than minPerGroup.
 */
export function groupRatio<K extends string>(
  tf: Features,
  analogs: ReadonlyArray<{ ppsm: number; f: Features }>,
  keyOf: (f: Features) => K | null,
  cap: number,
): { target: K; usual: K; coef: number; note: string } | null {
  const target = keyOf(tf)
  if (target === null) return null
  const keyed = analogs.map((a) => ({ ppsm: a.ppsm, key: keyOf(a.f) })).filter((a): a is { ppsm: number; key: K } => a.key !== null)
  const usual = mode(keyed.map((a) => a.key))
  if (usual === null || usual === target) return null
  const mine = keyed.filter((a) => a.key === target).map((a) => a.ppsm)
  const theirs = keyed.filter((a) => a.key === usual).map((a) => a.ppsm)
  const min = COEFFICIENTS.by_analogs.minPerGroup
  if (mine.length < min || theirs.length < min) return null
  const coef = clamp(mean(mine) / mean(theirs), 1 - cap, 1 + cap)
  const nf = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 0 })
  return { target, usual, coef, note: `${mine.length} аналог. как у объекта: ${nf.format(mean(mine))} ₽/м²; ${theirs.length} — ${nf.format(mean(theirs))} ₽/м²` }
}

type Zone = 'low' | 'middle' | 'high'
const ZONE_RU: Record<Zone, string> = { low: 'нижние этажи', middle: 'средние этажи', high: 'верхние этажи' }

export function zoneOf(p: Pick<Property, 'floor' | 'floors_total'>): Zone | null {
  if (p.floor === null || p.floors_total === null || p.floors_total <= 0) return null
  if (p.floor <= 1) return 'low'
  const pos = p.floor / p.floors_total
  if (pos < COEFFICIENTS.floor_zone.lowBelow) return 'low'
  if (pos > COEFFICIENTS.floor_zone.highAbove) return 'high'
  return 'middle'
}

export function repairLevel(text: string | null): { level: string; coef: number } | null {
  if (!text) return null
  const hit = COEFFICIENTS.repair.find((r) => r.match.test(text))
  return hit ? { level: hit.level, coef: hit.coef } : null
}

export function ceilingCoef(h: number): number {
  const pts = COEFFICIENTS.ceiling_height
  if (h <= pts[0][0]) return pts[0][1]
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1]
    const [x1, y1] = pts[i]
    if (h <= x1) return y0 + ((h - x0) / (x1 - x0)) * (y1 - y0)
  }
  return pts[pts.length - 1][1]
}

export function ageCoef(age: number): number {
  const B = COEFFICIENTS.building_age
  return 1 + (B.perCentury * Math.max(0, age - B.freeYears)) / 100
}

export function livingCoef(s: number): number {
  const L = COEFFICIENTS.living_share
  if (s > L.high) return 1 + Math.min(L.max, ((s - L.high) / (L.highFull - L.high)) * L.max)
  if (s < L.low) return 1 - Math.min(L.max, ((L.low - s) / (L.low - L.lowFull)) * L.max)
  return 1
}

function share(p: Property): number | null {
  if (p.living_area === null || p.total_area === null || p.living_area > p.total_area) return null
  return p.living_area / p.total_area
}

// ---------------------------------------------------------------- confidence

function confidenceOf(n: number, spreadCv: number, multiplier: number): { score: number; reasons: string[] } {
  const reasons: string[] = []
  let score = 100
  if (n >= 10) reasons.push(`аналогов достаточно: ${n}`)
  else if (n >= 5) {
    score -= 10
    reasons.push(`аналогов немного: ${n} (−10)`)
  } else if (n >= 3) {
    score -= 25
    reasons.push(`аналогов мало: ${n} (−25)`)
  } else {
    score -= 40
    reasons.push(`аналогов очень мало: ${n} (−40)`)
  }
  const cvPenalty = spreadCv < 0.1 ? 0 : spreadCv < 0.2 ? 10 : spreadCv < 0.3 ? 20 : 35
  score -= cvPenalty
  reasons.push(`разброс цен за м² CV ${pct(spreadCv)}${cvPenalty ? ` (−${cvPenalty})` : ''}`)
  // Large corrections mean the analogs differ from the target: the estimate leans on the table.
  const m = Math.min(20, Math.round(Math.abs(multiplier - 1) * 100))
  score -= m
  reasons.push(`поправки изменили базу на ${pct(multiplier - 1)}${m ? ` (−${m})` : ''}`)
  return { score: Math.max(0, Math.min(100, score)), reasons }
}

// ---------------------------------------------------------------- statistics

/** Two-sided 95 % Student t critical values by degrees of freedom (1…30); 1.96 beyond. */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042]

export function tCritical95(df: number): number {
  if (df < 1) return Infinity
  if (df <= 30) return T95[df - 1]
  if (df <= 60) return 2.0
  return 1.96
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Linear interpolation between order statistics (numpy's default, "type 7"). */
export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}

/** Sample standard deviation (n − 1). */
function stdev(xs: readonly number[]): number {
  if (xs.length < 2) return 0
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1))
}

function cv(xs: readonly number[]): number {
  const m = mean(xs)
  return m === 0 ? 0 : stdev(xs) / m
}

function mode<T>(xs: readonly T[]): T | null {
  const counts = new Map<string, { x: T; n: number }>()
  for (const x of xs) {
    const k = JSON.stringify(x)
    const c = counts.get(k) ?? { x, n: 0 }
    c.n++
    counts.set(k, c)
  }
  let best: { x: T; n: number } | null = null
  for (const c of counts.values()) if (best === null || c.n > best.n) best = c
  return best?.x ?? null
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x))
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1).replace('.', ',')} %`
}

function isNum(x: number | null): x is number {
  return x !== null
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
