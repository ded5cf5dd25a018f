/**
 * @module Advice for the owner: the flat's strengths and weaknesses against its analogs, each from
 * an adjustment the valuation applied (with the share of analogs it beats where the fact is a
 * number), and what to do — the price to set and why, the bargaining floor, what to show in the
 * listing — each said once. Only facts the valuation used.
 */
import type { Property } from '../parse/property.ts'
import { featuresOf } from './features.ts'
import { moneyFor, nf0, nf1, pct } from './format.ts'
import type { SaleScenarios } from './scenarios.ts'
import type { Adjustment, Valuation } from './valuation.ts'

/** One thing to do; `topic` lets a reader (or a test) find the price to set without parsing the text. */
export type AdviceAction = { topic: 'price' | 'bargaining' | 'market' | 'listing'; text: string }

export type Advice = {
  strengths: string[]
  weaknesses: string[]
  /** «Что сделать»: the report's one section of advice. */
  actions: AdviceAction[]
}

/** The numeric fact behind an adjustment, per flat, to say how many analogs the target beats. */
const NUMERIC: Partial<Record<Adjustment['parameter'], (p: Property) => number | null>> = {
  ceiling_height: (p) => p.ceiling_height,
  building_age: (p) => p.year_built,
  bathrooms: (p) => featuresOf(p).bathrooms,
  living_share: (p) => (p.living_area !== null && p.total_area ? p.living_area / p.total_area : null),
}

function describeAdjustment(a: Adjustment, analogs: readonly Property[]): string {
  const effect = pct(a.coefficient - 1)
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
  const rent = valuation.deal_type === 'rent'
  const actions: AdviceAction[] = [{ topic: 'price', text: priceToSet(valuation) }]
  const money = moneyFor(valuation)
  const r = valuation.price_range
  actions.push({
    topic: 'bargaining',
    text: rent
      ? `При торге не снижайте ставку ниже ${money(r.minimum_acceptable)}.`
      : `При торге не опускайтесь ниже ${money(r.minimum_acceptable)}; если продать нужно быстро — не ниже ${money(r.quick_sale_min)}.`,
  })
  const fair = scenarios.available ? scenarios.scenarios.find((s) => s.shift === 0) : undefined
  if (fair?.days != null) actions.push({ topic: 'market', text: `По справедливой цене аналоги уходили с рынка примерно за ${fair.days} дн.` })
  if (scenarios.price_cuts.count > 0 && scenarios.price_cuts.median_cut !== null) {
    actions.push({
      topic: 'market',
      text: `${scenarios.price_cuts.count} из ${scenarios.analogs_with_history || analogs.length} аналогов снижали цену (медиана −${nf1.format(scenarios.price_cuts.median_cut * 100)} %): закладывайте торг.`,
    })
  }
  if (ups.length > 0) {
    actions.push({ topic: 'listing', text: `Покажите в объявлении то, чем квартира лучше аналогов: ${ups.map((a) => a.label.toLowerCase()).join(', ')} — в заголовке, описании и на фото.` })
  }
  if (downs.length > 0) {
    actions.push({ topic: 'listing', text: `Слабые стороны уже учтены в справедливой ${rent ? 'ставке' : 'цене'}: назовите их ${rent ? 'арендатору' : 'покупателю'} сами и объясните ими ${rent ? 'ставку' : 'цену'}.` })
  }
  return { strengths, weaknesses, actions }
}

/** The price to set, with its reason: the fair price plus the bargaining margin the valuation chose. */
function priceToSet(v: Valuation): string {
  const rent = v.deal_type === 'rent'
  const r = v.price_range
  const d = v.difference
  const markup = r.fair > 0 ? r.recommended_listing / r.fair - 1 : 0
  const margin = markup > NOTABLE ? ` плюс ${pct(markup, false)} на торг${d !== null && d > 0 ? ' (меньше обычного: нынешняя уже выше справедливой)' : ''}` : ' без наценки на торг'
  const set = `${moneyFor(v)(r.recommended_listing)} — ${rent ? 'справедливую ставку' : 'справедливую цену'}${margin}`
  const asking = rent ? 'Ставка в объявлении' : 'Цена объявления'
  if (v.verdict === 'overpriced' && d !== null) return `${asking} на ${nf1.format(d * 100)} % выше справедливой: чтобы ${rent ? 'сдать' : 'продать'} в разумный срок, поставьте ${set}.`
  if (v.verdict === 'underpriced' && d !== null) return `${asking} на ${nf1.format(-d * 100)} % ниже справедливой. Поставьте ${set}.`
  return `Поставьте в объявлении ${set}.`
}
