/**
 * @module Analogs' own pages: search cards lack facts the valuation uses (year, ceiling, repair,
 * amenities…). The top analogs missing any are parsed from their own pages as child parse jobs
 * (through the same fetch ladder and store), at most N at a time; pages parsed within a day come
 * from the store. An analog whose page could not be had keeps its card facts and says so.
 */
import type { Property } from '../parse/property.ts'
import { featuresOf } from '../report/features.ts'
import type { ChildOutcome, TaskServices } from '../services.ts'
import type { TaskContext } from '../types.ts'
import type { RankedAnalog } from './rank.ts'

/** Where an analog's facts come from, shown in the report. */
export type AnalogFacts = { facts_source: 'page' | 'card'; facts_note?: string }
export type RefinedAnalog = RankedAnalog & Partial<AnalogFacts>

/** The page fields the valuation reads; a card lacking any of them is worth a page fetch. */
const PAGE_FIELDS = ['living_area', 'kitchen_area', 'year_built', 'house_type', 'ceiling_height', 'repair', 'market', 'floors_total'] as const

/** Facts the valuation uses that this card does not give. */
export function missingFacts(p: Property): string[] {
  const missing: string[] = PAGE_FIELDS.filter((field) => p[field] === null)
  const f = featuresOf(p)
  if (f.balconies === null) missing.push('balcony')
  if (f.bathrooms === null) missing.push('bathrooms')
  if (f.lift === null) missing.push('lift')
  if (f.parking === null) missing.push('parking')
  return missing
}

/** The card with the page's facts on top (the page is the listing itself); price stays the card's. */
export function withPageFacts(card: RankedAnalog, page: Property): RefinedAnalog {
  const merged: RefinedAnalog = { ...card, facts_source: 'page' }
  for (const field of PAGE_FIELDS) if (page[field] !== null) (merged as Record<string, unknown>)[field] = page[field]
  for (const field of ['completion_year', 'residential_complex', 'lat', 'lon'] as const) {
    if (merged[field] === null && page[field] !== null) (merged as Record<string, unknown>)[field] = page[field]
  }
  merged.characteristics = { ...card.characteristics, ...page.characteristics }
  return merged
}

const REASON_RU: Record<ChildOutcome['status'], string> = {
  finished: 'страница не похожа на объявление',
  failed: 'страница не загрузилась',
  canceled: 'загрузка страницы отменена',
  timeout: 'страница не загрузилась вовремя',
}

function cardOnly(card: RankedAnalog, outcome: ChildOutcome | undefined, fetched: boolean): RefinedAnalog {
  const why = outcome ? REASON_RU[outcome.status] : fetched ? 'страница не загружалась' : 'страница не загружалась (поиск только по базе объявлений)'
  const blocked = outcome?.error && /blocked|captcha/i.test(outcome.error) ? ' (сайт заблокировал запрос)' : ''
  return { ...card, facts_source: 'card', facts_note: `${why}${blocked}: использованы данные карточки поиска` }
}

/**
 * `fetch: false` (a store-only search: no network) uses only pages already in the store; the other
 * analogs keep their card facts.
 */
export async function refineWithPages(
  analogs: readonly RankedAnalog[],
  ctx: TaskContext<TaskServices>,
  options: { sessionId: string; fetch: boolean },
): Promise<{ analogs: RefinedAnalog[]; children: number }> {
  const { sessionId } = options
  const { config, listings, children } = ctx.deps
  const top = analogs.slice(0, config.analogPagesMax).filter((a) => /^https?:\/\//.test(a.url) && missingFacts(a).length > 0)
  if (top.length === 0) return { analogs: [...analogs], children: 0 }
  const fresh = new Map((await listings.findPagesParsedSince(top.map((a) => a.url), config.analogPagesFreshHours)).map((p) => [p.url, p]))
  const toFetch = options.fetch ? top.filter((a) => !fresh.has(a.url)) : []
  const pages = new Map<string, Property>(fresh)
  const outcomes = new Map<string, ChildOutcome>()
  if (toFetch.length > 0 && children) {
    const total = toFetch.length
    await ctx.progress(75, `Уточняем аналоги: 0 из ${total}`)
    const results = await children.run(
      ctx.jobId,
      sessionId,
      toFetch.map((a) => ({ kind: 'parse', payload: { url: a.url, session_id: sessionId, role: 'analog' }, ref: a.url })),
      {
        concurrency: config.analogPagesConcurrency,
        waitSeconds: config.analogPagesWaitSeconds,
        signal: ctx.signal,
        onSettled: (done) => void ctx.progress(75 + Math.round((20 * done) / total), `Уточняем аналоги: ${done} из ${total}`),
      },
    )
    for (const outcome of results) {
      outcomes.set(outcome.ref, outcome)
      const data = (outcome.result as { data?: Property } | undefined)?.data
      if (outcome.status === 'finished' && data) pages.set(outcome.ref, data)
    }
  }
  const wanted = new Set(top.map((a) => a.url))
  const refined = analogs.map((a) => {
    if (!wanted.has(a.url)) return a
    const page = pages.get(a.url)
    return page ? withPageFacts(a, page) : cardOnly(a, outcomes.get(a.url), options.fetch)
  })
  return { analogs: refined, children: toFetch.length }
}
