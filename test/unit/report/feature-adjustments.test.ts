import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { countItems, featuresOf } from '../../../src/tasks/report/features.ts'
import { bathroomCoef, valuate } from '../../../src/tasks/report/valuation.ts'

let seq = 1

/** A 50 m² flat whose only differences are the characteristics given. */
function flat(ppsm: number, characteristics: Record<string, string> = {}, over: Partial<Property> = {}): Property {
  return {
    ...emptyProperty('cian', `https://www.cian.ru/sale/flat/${seq++}/`),
    deal_type: 'sale',
    region: 'msk',
    currency: 'RUB',
    price: Math.round(ppsm * 50),
    total_area: 50,
    characteristics,
    ...over,
  }
}

const byParameter = (v: ReturnType<typeof valuate>, parameter: string) => v.adjustments.find((a) => a.parameter === parameter)

describe('featuresOf reads the sites’ wording', () => {
  it('reads cian, avito and domclick labels', () => {
    expect(featuresOf(flat(1, { 'Санузел': '2 совмещенных, 2 раздельных', 'Балкон/лоджия': '1 лоджия', 'Количество лифтов': '1 пассажирский, 1 грузовой', 'Парковка': 'Подземная', 'Вид из окон': 'На улицу и двор' }, { market: 'new_building' }))).toEqual({
      balconies: 1, bathrooms: 4, bathroomSeparate: false, lift: true, parking: 'underground', view: 'yard_and_street', market: 'new_building',
    })
    expect(featuresOf(flat(1, { 'Балкон или лоджия': 'балкон, лоджия', 'Санузел': 'раздельный', 'Пассажирский лифт': '1', 'Парковка': 'открытая во дворе' }))).toMatchObject({
      balconies: 2, bathrooms: 1, bathroomSeparate: true, lift: true, parking: 'ground', view: null,
    })
    expect(featuresOf(flat(1, { 'Количество балконов': '1', 'Лифт': 'есть' }))).toMatchObject({ balconies: 1, lift: true })
  })

  it('leaves what the page does not say as null, and reads "нет" as none', () => {
    expect(featuresOf(flat(1))).toEqual({ balconies: null, bathrooms: null, bathroomSeparate: null, lift: null, parking: null, view: null, market: null })
    expect(featuresOf(flat(1, { 'Балкон/лоджия': 'нет', 'Лифт': 'нет' }))).toMatchObject({ balconies: 0, lift: false })
    expect(countItems('2 балкона, 1 лоджия', /балкон|лодж/)).toBe(3)
  })
})

describe('the new coefficients, computed by hand', () => {
  it('bathrooms: ±5 % per bathroom against the analogs’ median, capped ±10 %', () => {
    expect(bathroomCoef(2, 1)).toBeCloseTo(1.05, 10)
    expect(bathroomCoef(1, 2)).toBeCloseTo(0.95, 10)
    expect(bathroomCoef(4, 1)).toBeCloseTo(1.1, 10) // 1 + 0.15 capped at 1.10
    // analogs 200 000 ₽/m², one bathroom each; target has two: 200 000 × 1.05 = 210 000
    const analogs = [1, 2, 3].map(() => flat(200_000, { 'Санузел': '1 совмещенный' }))
    const v = valuate(flat(200_000, { 'Санузел': '2 совмещенных' }), analogs, { currentYear: 2025 })
    expect(byParameter(v, 'bathrooms')).toMatchObject({ target_value: 2, analogs_value: 1, coefficient: 1.05, estimate_per_sqm: 210_000 })
    expect(byParameter(v, 'bathrooms')?.source).toMatch(/±5 %/)
  })

  it('lift: a house without one is 0.95 of a house with one', () => {
    const analogs = [1, 2, 3].map(() => flat(200_000, { 'Количество лифтов': '1 пассажирский' }))
    const v = valuate(flat(200_000, { 'Лифт': 'нет' }), analogs, { currentYear: 2025 })
    // 0.95 / 1.00 → 200 000 × 0.95 = 190 000
    expect(byParameter(v, 'lift')).toMatchObject({ target_value: 'нет', analogs_value: 'есть', coefficient: 0.95, estimate_per_sqm: 190_000 })
  })

  it('balcony: measured on the analogs, mean of the target’s group ÷ mean of the usual group', () => {
    // without: 200, 210, 190 (mean 200 000); with: 206, 210 (mean 208 000) → 208 / 200 = 1.04
    const analogs = [
      flat(200_000, { 'Балкон/лоджия': 'нет' }), flat(210_000, { 'Балкон/лоджия': 'нет' }), flat(190_000, { 'Балкон/лоджия': 'нет' }),
      flat(206_000, { 'Балкон/лоджия': '1 балкон' }), flat(210_000, { 'Балкон/лоджия': '1 лоджия' }),
    ]
    const v = valuate(flat(200_000, { 'Балкон/лоджия': '1 балкон' }), analogs, { currentYear: 2025 })
    // base = median(190, 200, 206, 210, 210) = 206 000 → estimate 206 000 × 1.04 = 214 240
    expect(byParameter(v, 'balcony')).toMatchObject({ target_value: 'есть', analogs_value: 'нет', coefficient: 1.04, estimate_per_sqm: 214_240 })
  })

  it('the adaptive effect is capped (balcony ±5 %)', () => {
    // without: 100, 100; with: 200, 200 → ratio 2 → capped 1.05
    const analogs = [flat(100_000, { 'Балкон/лоджия': 'нет' }), flat(100_000, { 'Балкон/лоджия': 'нет' }), flat(100_000, { 'Балкон/лоджия': 'нет' }), flat(200_000, { 'Балкон/лоджия': '1 балкон' }), flat(200_000, { 'Балкон/лоджия': '1 балкон' })]
    const v = valuate(flat(150_000, { 'Балкон/лоджия': '2 балкона' }), analogs, { currentYear: 2025 })
    expect(byParameter(v, 'balcony')?.coefficient).toBe(1.05)
  })

  it('parking, view and bathroom type: the same rule, each with its own cap', () => {
    // parking: ground 200, 200 (usual, 3 of them: 200, 200, 200) vs underground 220, 230 → 225 / 200 = 1.125 → cap 1.05
    const analogs = [
      flat(200_000, { 'Парковка': 'Наземная', 'Вид из окон': 'Во двор', 'Санузел': '1 совмещенный' }),
      flat(200_000, { 'Парковка': 'Наземная', 'Вид из окон': 'Во двор', 'Санузел': '1 совмещенный' }),
      flat(200_000, { 'Парковка': 'Наземная', 'Вид из окон': 'Во двор', 'Санузел': '1 совмещенный' }),
      flat(220_000, { 'Парковка': 'Подземная', 'Вид из окон': 'На улицу', 'Санузел': '1 раздельный' }),
      flat(230_000, { 'Парковка': 'Подземная', 'Вид из окон': 'На улицу', 'Санузел': '1 раздельный' }),
    ]
    const v = valuate(flat(200_000, { 'Парковка': 'Подземная', 'Вид из окон': 'На улицу', 'Санузел': '1 раздельный' }), analogs, { currentYear: 2025 })
    expect(byParameter(v, 'parking')).toMatchObject({ target_value: 'подземная', analogs_value: 'наземная', coefficient: 1.05 })
    expect(byParameter(v, 'view')).toMatchObject({ target_value: 'на улицу', analogs_value: 'во двор', coefficient: 1.05 })
    // bathroom type cap ±3 %: 1.125 → 1.03
    expect(byParameter(v, 'bathroom_type')).toMatchObject({ target_value: 'раздельный', analogs_value: 'совмещённый', coefficient: 1.03 })
  })

  it('new building vs secondary only where the analogs are mixed', () => {
    const analogs = [flat(200_000, {}, { market: 'secondary' }), flat(200_000, {}, { market: 'secondary' }), flat(200_000, {}, { market: 'secondary' }), flat(230_000, {}, { market: 'new_building' }), flat(220_000, {}, { market: 'new_building' })]
    const v = valuate(flat(200_000, {}, { market: 'new_building' }), analogs, { currentYear: 2025 })
    // 225 / 200 = 1.125 (under the ±15 % cap)
    expect(byParameter(v, 'market')).toMatchObject({ target_value: 'новостройка', analogs_value: 'вторичное жильё', coefficient: 1.125 })
    // all analogs secondary: not mixed, no adjustment
    const plain = valuate(flat(200_000, {}, { market: 'new_building' }), analogs.slice(0, 3), { currentYear: 2025 })
    expect(byParameter(plain, 'market')).toBeUndefined()
  })

  it('applies nothing from a default: no fact on the target, or too few analogs stating it', () => {
    const analogs = [flat(200_000, { 'Балкон/лоджия': 'нет', 'Санузел': '1 совмещенный', 'Лифт': 'есть', 'Парковка': 'Наземная' }), flat(210_000, { 'Балкон/лоджия': 'нет' }), flat(190_000)]
    expect(valuate(flat(200_000), analogs, { currentYear: 2025 }).adjustments).toEqual([])
    // target has a balcony, but only 0 analogs with one: the group is too small
    const v = valuate(flat(200_000, { 'Балкон/лоджия': '1 балкон' }), analogs, { currentYear: 2025 })
    expect(byParameter(v, 'balcony')).toBeUndefined()
  })
})
