/**
 * @module Advice for the owner: the flat's strengths and weaknesses against its analogs, each from
 * an adjustment the valuation applied (with the share of analogs it beats where the fact is a
 * number), and what to do about the price and the listing. Only facts the valuation used.
 */
import type { Property } from '../parse/property.ts'
import { featuresOf } from './features.ts'
import type { SaleScenarios } from './scenarios.ts'
import type { Adjustment, Valuation } from './valuation.ts'

export type Advice = {
  strengths: string[]
  weaknesses: string[]
  actions: string[]
}

const nf0 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 0 })
const nf1 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 1 })
const rub = (n: number) => `${nf0.format(Math.round(n))} ₽`
const signedPct = (x: number) => `${x > 0 ? '+' : '−'}${nf1.format(Math.abs(x * 100))} %`

/** The numeric fact behind an adjustment, per flat, to say how many analogs the target beats. */
const NUMERIC: Partial<Record<Adjustment['parameter'], (p: Property) => number | null>> = {
  ceiling_height: (p) => p.ceiling_height,
  building_age: (p) => p.year_built,
  bathrooms: (p) => featuresOf(p).bathrooms,
  living_share: (p) => (p.living_area !== null && p.total_area ? p.living_area / p.total_area : null),
}

function describeAdjustment(a: Adjustment, analogs: readonly Property[]): string {
  const effect = signedPct(a.coefficient - 1)
  const valueOf = NUMERIC[a.parameter]
  if (valueOf) {
    const values = analogs.map(valueOf).filter((x): x is number => x !== null)
    const target = typeof a.target_value === 'number' ? a.target_value : Number(a.target_value)
    // A raising adjustment beats the analogs below the target's value, a lowering one trails those above.
    const beaten = a.coefficient > 1 ? values.filter((x) => x < target) : values.filter((x) => x > target)
    const share = values.length ? beaten.length / values.length : 0
    const word = a.parameter === 'building_age' ? (a.coefficient > 1 ? 'новее' : 'старше') : a.coefficient > 1 ? 'больше' : 'меньше'
    if (values.length > 0 && share > 0) {
      return `${a.label}: ${formatValue(a)} — ${word}, чем у ${nf0.format(share * 100)} % аналогов: ${effect}`
    }
  }
  return `${a.label}: ${formatValue(a)} против «${a.analogs_value}» у большинства аналогов: ${effect}`
}

function formatValue(a: Adjustment): string {
  if (a.parameter === 'ceiling_height') return `${nf1.format(Number(a.target_value))} м`
  if (a.parameter === 'living_share') return `${nf0.format(Number(a.target_value) * 100)} % жилой площади`
  if (a.parameter === 'building_age') return `${a.target_value} год`
  return String(a.target_value)
}

/** Effects smaller than this (0.1 %) are no strength or weakness worth telling. */
const NOTABLE = 0.001

export function adviseOwner(valuation: Valuation, analogs: readonly Property[], scenarios: SaleScenarios): Advice {
  const used = new Set(valuation.used_urls)
  const inUse = analogs.filter((a) => used.has(a.url))
  const ups = valuation.adjustments.filter((a) => a.coefficient - 1 >= NOTABLE)
  const downs = valuation.adjustments.filter((a) => 1 - a.coefficient >= NOTABLE)
  const strengths = ups.map((a) => describeAdjustment(a, inUse))
  const weaknesses = downs.map((a) => describeAdjustment(a, inUse))
  const actions: string[] = []
  const r = valuation.price_range
  const d = valuation.difference
  if (valuation.verdict === 'overpriced' && d !== null) {
    actions.push(`Цена объявления на ${nf1.format(d * 100)} % выше справедливой. Чтобы продать в разумный срок, поставьте около ${rub(r.recommended_listing)}.`)
  } else if (valuation.verdict === 'underpriced' && d !== null) {
    actions.push(`Цена объявления на ${nf1.format(-d * 100)} % ниже справедливой: её можно поднять до ${rub(r.recommended_listing)}.`)
  } else {
    actions.push(`Поставьте в объявлении ${rub(r.recommended_listing)}: это справедливая цена с запасом на торг.`)
  }
  actions.push(`При торге не опускайтесь ниже ${rub(r.minimum_acceptable)}; быстрая продажа — от ${rub(r.quick_sale_min)}.`)
  if (strengths.length > 0) {
    const labels = ups.map((a) => a.label.toLowerCase())
    actions.push(`Покажите в объявлении то, чем квартира лучше аналогов: ${labels.join(', ')} — в заголовке, описании и на фото.`)
  }
  if (weaknesses.length > 0) {
    actions.push('Слабые стороны уже учтены в справедливой цене: назовите их покупателю сами и объясните ими цену.')
  }
  if (scenarios.available) {
    const fair = scenarios.scenarios.find((s) => s.shift === 0)
    if (fair?.days != null) actions.push(`По справедливой цене аналоги уходили с рынка примерно за ${fair.days} дн.`)
  }
  if (scenarios.price_cuts.count > 0 && scenarios.price_cuts.median_cut !== null) {
    actions.push(`${scenarios.price_cuts.count} из ${scenarios.analogs_with_history || analogs.length} аналогов снижали цену (медиана −${nf1.format(scenarios.price_cuts.median_cut * 100)} %): закладывайте торг.`)
  }
  return { strengths, weaknesses, actions }
}
