import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { adviseOwner } from '../../../src/tasks/report/advice.ts'
import { estimateScenarios, kaplanMeierMedian, type MarketHistory } from '../../../src/tasks/report/scenarios.ts'
import { renderExtrasHtml, renderExtrasMarkdown } from '../../../src/tasks/report/render-extras.ts'
import { valuate } from '../../../src/tasks/report/valuation.ts'

const NOW = new Date('2026-06-01T00:00:00Z')
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString()

/** An analog first seen `listedDays` before now; gone (last seen `goneDays` ago) or still listed. */
function history(i: number, ppsm: number, listedDays: number, goneDays: number | null, prices: number[] = []): MarketHistory {
  return {
    url: `https://www.cian.ru/sale/flat/${i}/`,
    price_per_sqm: ppsm,
    first_seen: daysAgo(listedDays),
    last_seen: daysAgo(goneDays ?? 0),
    price_history: prices.map((price, k) => ({ price, seen_at: daysAgo(listedDays - k) })),
  }
}

describe('kaplanMeierMedian', () => {
  it('is the plain median when every exposure is known', () => {
    // 10 20 30 40 50, all ended: S after 10 = 4/5, 20 = 3/5, 30 = 2/5 ≤ 0.5 → 30
    expect(kaplanMeierMedian([10, 20, 30, 40, 50].map((days) => ({ days, ended: true })))).toBe(30)
  })
  it('counts still-listed analogs as at risk until they were last seen', () => {
    // ended 10, 40; censored 20, 30. At 10: 4 at risk → S = 3/4. At 40: 1 at risk (40) → S = 0 → 40
    expect(kaplanMeierMedian([{ days: 10, ended: true }, { days: 20, ended: false }, { days: 30, ended: false }, { days: 40, ended: true }])).toBe(40)
    // ended 10 only, censored 20, 30: S = 2/3 never reaches 0.5 → null
    expect(kaplanMeierMedian([{ days: 10, ended: true }, { days: 20, ended: false }, { days: 30, ended: false }])).toBeNull()
  })
})

describe('estimateScenarios', () => {
  // market 200 000 ₽/m². Cheap band (< −2.5 %): 190 000 (−5 %) ×3 ended after 20, 30, 40 days.
  // Fair band (−2.5…+2.5 %): 200 000 ×3 ended after 40, 50, 60. +5 % band: 210 000 ×3: ended 60, 90; listed 100.
  // +10 % band (≥ +7.5 %): 220 000 ×2: thin.
  const rows = [
    history(1, 190_000, 20 + 20, 20), history(2, 190_000, 30 + 20, 20), history(3, 190_000, 40 + 20, 20),
    history(4, 200_000, 40 + 15, 15), history(5, 200_000, 50 + 15, 15), history(6, 200_000, 60 + 15, 15, [10_500_000, 10_000_000]),
    history(7, 210_000, 60 + 30, 30), history(8, 210_000, 90 + 30, 30), history(9, 210_000, 100, null),
    history(10, 220_000, 120, null, [12_000_000, 11_000_000]), history(11, 220_000, 130, null),
  ]
  const s = estimateScenarios({ fairPrice: 10_000_000, marketPerSqm: 200_000, history: rows, now: NOW, deal: 'sale' })

  it('counts history, exits and price cuts', () => {
    expect(s.available).toBe(true)
    expect(s).toMatchObject({ analogs_with_history: 11, sold: 8, still_listed: 3 })
    // still listed: 100, 120, 130 days → median 120
    expect(s.median_days_listed).toBe(120)
    // cuts: 1 − 10.0/10.5 = 0.047619; 1 − 11/12 = 0.083333 → median 0.065476
    expect(s.price_cuts.count).toBe(2)
    expect(s.price_cuts.median_cut).toBeCloseTo(0.065476, 5)
    expect(s.method).toMatch(/Каплана–Мейера/)
  })

  it('gives each price its band’s median exposure, and no number for a thin band', () => {
    const [cheap, fair, plus5, plus10] = s.scenarios
    expect(cheap).toMatchObject({ shift: -0.05, price: 9_500_000, analogs: 3, sold: 3, days: 30, confidence: 'средняя' })
    expect(fair).toMatchObject({ shift: 0, price: 10_000_000, analogs: 3, days: 50 })
    // 60 ended (3 at risk → 2/3), 90 ended (2 at risk → 1/3 ≤ 0.5) → 90
    expect(plus5).toMatchObject({ shift: 0.05, price: 10_500_000, analogs: 3, sold: 2, days: 90 })
    expect(plus10).toMatchObject({ shift: 0.1, price: 11_000_000, analogs: 2, days: null, confidence: null })
    expect(plus10.note).toMatch(/мало данных/)
  })

  it('says "not enough data" and gives no number when the history is thin', () => {
    const thin = estimateScenarios({ fairPrice: 10_000_000, marketPerSqm: 200_000, history: rows.slice(0, 4), now: NOW, deal: 'sale' })
    expect(thin.available).toBe(false)
    expect(thin.scenarios).toEqual([])
    expect(thin.method).toMatch(/Недостаточно данных/)
    // everything first seen today: no exposure known at all
    const fresh = estimateScenarios({ fairPrice: 10_000_000, marketPerSqm: 200_000, history: rows.map((r) => ({ ...r, first_seen: NOW.toISOString(), last_seen: NOW.toISOString() })), now: NOW, deal: 'sale' })
    expect(fresh.available).toBe(false)
    expect(fresh.analogs_with_history).toBe(0)
  })
})

describe('the scenarios of a rental', () => {
  const rows = [190_000, 190_000, 190_000, 200_000, 200_000, 200_000].map((ppsm, i) => history(i, ppsm, 40 + i * 5, 15))
  it('speak of letting, not selling, in the method, the notes and both renderings', () => {
    const rent = estimateScenarios({ fairPrice: 60_000, marketPerSqm: 200_000, history: rows, now: NOW, deal: 'rent' })
    expect(rent.deal).toBe('rent')
    expect(rent.available).toBe(true)
    expect(rent.method).toMatch(/сняты с публикации .* ещё сдаются/)
    expect(rent.scenarios.find((row) => row.analogs >= 3)?.note).toMatch(/из них сняты с публикации/)
    const extras = { scenarios: rent, advice: { actions: [], strengths: [], weaknesses: [] }, added: [], excluded: [] }
    const html = renderExtrasHtml(extras)
    const markdown = renderExtrasMarkdown(extras)
    for (const text of [html, markdown, rent.method, ...rent.scenarios.map((row) => row.note)]) expect(text).not.toMatch(/продаж|продаю/)
    expect(html).toContain('<h2>Сценарии сдачи и срок экспозиции</h2>')
    expect(html).toContain('<th>Срок сдачи</th>')
    expect(html).toMatch(/60\s000 ₽\/мес/)
    expect(markdown).toContain('## Сценарии сдачи и срок экспозиции')
    // A sale keeps its own words.
    const sale = renderExtrasHtml({ ...extras, scenarios: estimateScenarios({ fairPrice: 10_000_000, marketPerSqm: 200_000, history: rows, now: NOW, deal: 'sale' }) })
    expect(sale).toContain('<h2>Сценарии продажи и срок экспозиции</h2>')
    expect(sale).toContain('<th>Срок продажи</th>')
  })
})

describe('adviseOwner', () => {
  let seq = 1
  const flat = (ppsm: number, over: Partial<Property> = {}): Property => ({
    ...emptyProperty('cian', `https://www.cian.ru/sale/flat/a${seq++}/`),
    deal_type: 'sale', currency: 'RUB', price: ppsm * 50, total_area: 50, ceiling_height: 2.7, ...over,
  })
  it('names strengths with the share of analogs beaten, weaknesses, and the price to set', () => {
    const analogs = [flat(200_000), flat(200_000), flat(200_000, { ceiling_height: 2.6 }), flat(200_000, { ceiling_height: 3.2 }), flat(200_000)]
    // ceilings: target 3.0 vs median 2.7; 4 of 5 analogs lower → 80 %; coef 1.02 / 1.00 → +2 %
    const target = flat(220_000, { ceiling_height: 3.0, characteristics: { 'Лифт': 'нет' } })
    const withLift = analogs.map((a) => ({ ...a, characteristics: { 'Лифт': 'есть' } }))
    const v = valuate(target, withLift, { currentYear: 2026 })
    const none = estimateScenarios({ fairPrice: v.fair_price, marketPerSqm: 200_000, history: [], now: NOW, deal: 'sale' })
    const advice = adviseOwner(v, withLift, none)
    expect(advice.strengths).toEqual(['Высота потолков: 3 м — больше, чем у 80 % аналогов: +2 %'])
    expect(advice.weaknesses).toEqual(['Лифт: нет против «есть» у большинства аналогов: −5 %'])
    // fair per m² = median(204 000, 190 000) = 197 000 → 9 850 000; asking 11 000 000 = +11,7 % → overpriced; listing premium 0
    expect(v.fair_price).toBe(9_850_000)
    expect(advice.actions[0]).toEqual({ topic: 'price', text: expect.any(String) })
    expect(advice.actions[0].text.replace(/\s/g, ' ')).toBe('Цена объявления на 11,7 % выше справедливой: чтобы продать в разумный срок, поставьте 9 850 000 ₽ — справедливую цену без наценки на торг.')
    // bargaining floor: recommended 9 850 000 × 0.95 = 9 357 500
    expect(advice.actions[1].text.replace(/\s/g, ' ')).toMatch(/^При торге не опускайтесь ниже 9 357 500 ₽; если продать нужно быстро — не ниже [\d ]+ ₽\.$/)
    const said = advice.actions.map((a) => a.text).join(' ')
    expect(said).toMatch(/высота потолков — в заголовке/)
    expect(said).not.toMatch(/уходили с рынка/)
    // Each thing once: one price to set, one bargaining floor.
    expect(advice.actions.filter((a) => a.topic === 'price')).toHaveLength(1)
    expect(advice.actions.filter((a) => a.topic === 'bargaining')).toHaveLength(1)
  })
})
