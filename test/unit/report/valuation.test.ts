import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { ceilingCoef, quantile, valuate } from '../../../src/tasks/report/valuation.ts'

let seq = 1

/** A 50 m² Moscow flat, floor 5 of 9 (middle zone), 2000, standard repair, 2.7 m, living 25 m² (50 %). */
function flat(ppsm: number, over: Partial<Property> = {}): Property {
  const area = over.total_area ?? 50
  return {
    ...emptyProperty('cian', `https://www.cian.ru/sale/flat/${seq++}/`),
    deal_type: 'sale',
    property_type: 'flat',
    region: 'msk',
    currency: 'RUB',
    price: Math.round(ppsm * area),
    total_area: 50,
    living_area: 25,
    floor: 5,
    floors_total: 9,
    year_built: 2000,
    repair: 'стандартная',
    ceiling_height: 2.7,
    ...over,
  }
}

const OPTS = { currentYear: 2025 }

describe('valuate: the main worked example', () => {
  // price per m² of the analogs, in thousands: 180 190 200 200 210 220 400
  const analogs = [180, 190, 200, 200, 210, 220, 400].map((k) => flat(k * 1000))
  // target: same flat but евроремонт and 3.0 m ceilings, asking 10 000 000 (200 000 ₽/m²)
  const target = flat(200_000, { repair: 'евроремонт', ceiling_height: 3.0 })
  const v = valuate(target, analogs, OPTS)

  it('drops the outlier by IQR and takes the median', () => {
    // n = 7 ≥ 5. Sorted; Q1 at position (7−1)·0.25 = 1.5 → 190 + 0.5·(200−190) = 195
    //                  Q3 at position 4.5 → 210 + 0.5·(220−210) = 215
    // IQR = 20 → fences 195 − 30 = 165 and 215 + 30 = 245: 400 is out.
    expect(v.price_per_sqm.q1).toBe(195_000)
    expect(v.price_per_sqm.q3).toBe(215_000)
    expect(v.excluded).toEqual([{ url: analogs[6].url, reason: 'iqr_outlier' }])
    expect(v.analogs_used).toBe(6)
    // median of 180 190 200 200 210 220 = (200 + 200) / 2 = 200
    expect(v.price_per_sqm.base_median).toBe(200_000)
    expect(v.price_per_sqm.mean).toBe(200_000)
  })

  it('measures data quality by CV', () => {
    // deviations −20 −10 0 0 10 20 (k): Σd² = 1000 → s² = 1000/5 = 200 → s = 14.142 → CV = 14.142/200 = 0.0707
    expect(v.data_quality.cv).toBeCloseTo(0.0707, 4)
    expect(v.data_quality.level).toBe('excellent')
    expect(v.data_quality.sufficient).toBe(true)
    // before the filter (with 400): mean 1600/7 = 228.571, Σd² = 35 285.71, s² = 5880.95, s = 76.687 → CV 0.3355
    expect(v.data_quality.cv_before_filter).toBeCloseTo(0.3355, 4)
  })

  it('makes one independent estimate per differing parameter and takes their median', () => {
    // repair: евроремонт 1.06 / стандартная 1.00 → 200 000 × 1.06 = 212 000
    // ceiling: coef(3.0) = 1.02, coef(2.7) = 1.00 → 200 000 × 1.02 = 204 000
    // floor zone, area (CV 0), building age, living share: the same as the analogs → no estimate
    expect(v.adjustments.map((a) => [a.parameter, a.coefficient, a.estimate_per_sqm])).toEqual([
      ['repair', 1.06, 212_000],
      ['ceiling_height', 1.02, 204_000],
    ])
    // fair per m² = median(212 000, 204 000) = 208 000; × 50 m² = 10 400 000
    expect(v.price_per_sqm.fair).toBe(208_000)
    expect(v.multiplier).toBe(1.04)
    expect(v.fair_price).toBe(10_400_000)
  })

  it('calls 10 000 000 against 10 400 000 fair (−3.85 %)', () => {
    // 10 000 000 / 10 400 000 − 1 = −0.0385: inside ±5 %
    expect(v.difference).toBeCloseTo(-0.0385, 4)
    expect(v.verdict).toBe('fair')
    expect(v.price_per_sqm.asking).toBe(200_000)
  })

  it('gives a t-based 95 % interval and the price range', () => {
    // n = 6, df = 5, t = 2.571; s/√n = 14 142.136 / 2.449 = 5 773.503; half-width = 14 843.676 ₽/m²
    // per m²: 208 000 ∓ 14 843.676 = 193 156.32 … 222 843.68
    expect(v.interval_95.per_sqm).toEqual([193_156, 222_844])
    // × 50: 9 657 816.2 … 11 142 183.8
    expect(v.interval_95.total).toEqual([9_657_816, 11_142_184])
    expect(v.price_range).toEqual({
      quick_sale_min: 9_368_082, // 9 657 816.2 × 0.97 = 9 368 081.7
      lower_bound: 9_657_816,
      fair: 10_400_000,
      recommended_listing: 10_920_000, // asking below fair → fair + 5 %
      upper_bound_max: 11_476_449, // 11 142 183.8 × 1.03 = 11 476 449.3
      minimum_acceptable: 10_374_000, // 10 920 000 × 0.95
    })
  })

  it('scores confidence with its reasons', () => {
    // 100 − 10 (6 analogs, 5…9) − 0 (CV 7 % < 10 %) − 4 (multiplier 1.04 → 4 %) = 86
    expect(v.confidence.score).toBe(86)
    expect(v.confidence.reasons).toHaveLength(3)
    expect(v.confidence.reasons[0]).toContain('6')
  })

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(v))).toEqual(v)
  })
})

describe('valuate: verdict thresholds and the listing premium', () => {
  const analogs = [180, 190, 200, 200, 210, 220].map((k) => flat(k * 1000))
  const base = flat(200_000, { repair: 'евроремонт', ceiling_height: 3.0 }) // fair 10 400 000 as above
  const at = (price: number) => valuate({ ...base, price }, analogs, OPTS)

  it('overpriced beyond +5 %: listing = fair', () => {
    const v = at(11_000_000) // 11.0 / 10.4 − 1 = +5.77 %
    expect(v.verdict).toBe('overpriced')
    expect(v.price_range.recommended_listing).toBe(10_400_000)
    expect(v.price_range.minimum_acceptable).toBe(9_880_000) // × 0.95
  })

  it('slightly over (0…5 %): fair + 3 %', () => {
    const v = at(10_700_000) // +2.88 %
    expect(v.verdict).toBe('fair')
    expect(v.price_range.recommended_listing).toBe(10_712_000) // 10 400 000 × 1.03
    expect(v.price_range.minimum_acceptable).toBe(10_176_400) // 10 712 000 × 0.95
  })

  it('the boundary: +4.99 % is fair, +5.01 % is overpriced, −5.77 % is underpriced', () => {
    expect(at(10_919_000).verdict).toBe('fair') // 10 919 / 10 400 = 1.0499
    expect(at(10_921_000).verdict).toBe('overpriced') // 1.0501
    expect(at(9_800_000).verdict).toBe('underpriced') // 0.9423
    expect(at(9_881_000).verdict).toBe('fair') // 0.9501
  })

  it('no asking price → no verdict, fair + 5 % listing', () => {
    const v = valuate({ ...base, price: null }, analogs, OPTS)
    expect(v.verdict).toBeNull()
    expect(v.difference).toBeNull()
    expect(v.price_range.recommended_listing).toBe(10_920_000)
  })
})

describe('valuate: each adjustment alone', () => {
  it('floor, fixed rule with < 5 analogs: first floor vs middle = 0.97 / 1.04', () => {
    const analogs = [200, 200, 200, 200].map((k) => flat(k * 1000))
    const v = valuate(flat(200_000, { floor: 1 }), analogs, OPTS)
    // 200 000 × 0.97 / 1.04 = 186 538.46
    expect(v.adjustments).toMatchObject([{ parameter: 'floor_zone', coefficient: 0.9327, estimate_per_sqm: 186_538, note: 'фиксированное правило' }])
    expect(v.price_per_sqm.fair).toBe(186_538)
    expect(v.fair_price).toBe(9_326_900) // 186 538 × 50
    expect(v.price_per_sqm.q1).toBeNull() // n = 4 < 5: no IQR filter
  })

  it('floor, adaptive with ≥ 5 analogs: low-zone avg / middle-zone avg', () => {
    // floor 2 of 9 = 22 % < 30 % → low zone: 180, 180; middle: 200, 200, 200
    const analogs = [flat(180_000, { floor: 2 }), flat(180_000, { floor: 2 }), flat(200_000), flat(200_000), flat(200_000)]
    const v = valuate(flat(190_000, { floor: 1 }), analogs, OPTS)
    // base = median(180 180 200 200 200) = 200 000; IQR: Q1 = 180, Q3 = 200, fences 150…230, all kept
    // analogs' zone = middle (3 of 5); coef = (180/200) / (200/200) = 0.9 → 180 000
    expect(v.price_per_sqm.base_median).toBe(200_000)
    expect(v.adjustments).toMatchObject([{ parameter: 'floor_zone', coefficient: 0.9, estimate_per_sqm: 180_000 }])
    expect(v.fair_price).toBe(9_000_000)
  })

  it('total area only when the analog areas vary (CV ≥ 15 %)', () => {
    // areas 40 50 60 80 100: mean 66, Σd² = 2320, s = √580 = 24.08 → CV 36 %; median 60
    const analogs = [40, 50, 60, 80, 100].map((a) => flat(200_000, { total_area: a, living_area: a / 2 }))
    const v = valuate(flat(200_000, { total_area: 90, living_area: 45 }), analogs, OPTS)
    // 1 − 0.08 × (90/60 − 1) = 0.96 → 192 000 ₽/m² × 90 = 17 280 000
    expect(v.adjustments).toMatchObject([{ parameter: 'total_area', coefficient: 0.96, estimate_per_sqm: 192_000, analogs_value: 60 }])
    expect(v.fair_price).toBe(17_280_000)

    const similar = [50, 52, 54, 50, 52].map((a) => flat(200_000, { total_area: a, living_area: a / 2 }))
    expect(valuate(flat(200_000, { total_area: 90, living_area: 45 }), similar, OPTS).adjustments).toEqual([])
  })

  it('total area is capped at ±10 %', () => {
    const analogs = [40, 50, 60, 80, 100].map((a) => flat(200_000, { total_area: a, living_area: a / 2 }))
    // 300 m²: 1 − 0.08 × (300/60 − 1) = 0.68 → capped at 0.90
    const v = valuate(flat(200_000, { total_area: 300, living_area: 150 }), analogs, OPTS)
    expect(v.adjustments[0].coefficient).toBe(0.9)
  })

  it('building age: −5 % per 100 years beyond 10', () => {
    const analogs = [200, 200, 200].map((k) => flat(k * 1000, { year_built: 2015 }))
    const v = valuate(flat(200_000, { year_built: 1925 }), analogs, OPTS)
    // target age 100: 1 − 0.05 × 90/100 = 0.955; analogs age 10: 1.000 → 191 000
    expect(v.adjustments).toMatchObject([{ parameter: 'building_age', coefficient: 0.955, estimate_per_sqm: 191_000 }])
  })

  it('living share: 72 % → +8 % (capped)', () => {
    const analogs = [200, 200, 200].map((k) => flat(k * 1000))
    const v = valuate(flat(200_000, { living_area: 36 }), analogs, OPTS)
    // 36/50 = 0.72 > 0.5: 1 + min(0.08, (0.72 − 0.5)/0.2 × 0.08 = 0.088) = 1.08; analogs 0.5 → 1.00
    expect(v.adjustments).toMatchObject([{ parameter: 'living_share', coefficient: 1.08, estimate_per_sqm: 216_000 }])
  })

  it('user-filled values override the page, unknown values are skipped', () => {
    const analogs = [200, 200, 200].map((k) => flat(k * 1000))
    const noCeiling = flat(200_000, { ceiling_height: null })
    expect(valuate(noCeiling, analogs, OPTS).adjustments).toEqual([])
    // 2.5 m → 0.95 → 190 000
    const v = valuate(noCeiling, analogs, { ...OPTS, overrides: { ceiling_height: 2.5 } })
    expect(v.adjustments).toMatchObject([{ parameter: 'ceiling_height', coefficient: 0.95, estimate_per_sqm: 190_000 }])
  })

  it('ceiling coefficient is linear between points and capped', () => {
    expect(ceilingCoef(2.4)).toBe(0.95)
    expect(ceilingCoef(2.6)).toBeCloseTo(0.975, 6) // halfway 0.95 → 1.00
    expect(ceilingCoef(4.0)).toBe(1.05)
  })
})

describe('valuate: analog validation', () => {
  it('excludes analogs without price or area and implausible ones, and says why', () => {
    const good = [190, 200, 210].map((k) => flat(k * 1000))
    const noPrice = flat(200_000, { price: null })
    const noArea = flat(200_000, { total_area: null })
    const tiny = flat(200_000, { total_area: 5, price: 1_000_000 })
    const cheap = flat(5_000) // 5 000 ₽/m² for sale
    const badFloor = flat(200_000, { floor: 12, floors_total: 9 })
    const v = valuate(flat(200_000), [...good, noPrice, noArea, tiny, cheap, badFloor], OPTS)
    expect(v.excluded.map((e) => e.reason)).toEqual([
      'missing_price',
      'missing_area',
      'implausible_area',
      'implausible_price_per_sqm',
      'floor_above_total',
    ])
    expect(v.analogs_used).toBe(3)
    expect(v.data_quality.sufficient).toBe(false)
    expect(v.data_quality.warnings[0]).toContain('мало аналогов')
    // 3 analogs: −25; CV = 10/200 = 5 % → 0; no adjustment → 75
    expect(v.confidence.score).toBe(75)
  })

  it('refuses to value without any usable analog or without the target area', () => {
    expect(() => valuate(flat(200_000), [flat(200_000, { price: null })], OPTS)).toThrow(/аналог/)
    expect(() => valuate(flat(200_000, { total_area: null }), [flat(200_000)], OPTS)).toThrow(/площад/)
  })

  it('quantile interpolates like numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75)
  })
})
