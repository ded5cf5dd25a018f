import { z } from 'zod'
import { AppError } from '../../errors.ts'
import { checkListingUrl } from '../../fetch/index.ts'
import type { TaskServices } from '../services.ts'
import { defineTask } from '../types.ts'
import type { Property } from './property.ts'

export const ParsePayloadSchema = z.object({
  url: z.string().min(1, 'url is required').max(2048),
  session_id: z.string().min(1).max(200),
})
export type ParsePayload = z.infer<typeof ParsePayloadSchema>
export type ParseResult = { success: true; data: Property; session_id: string }

/** A page without an offer id and without a price is not a listing (a search page, a home page…). */
function looksLikeListing(property: Property): boolean {
  return property.offer_id !== null || (property.price !== null && (property.total_area !== null || property.title !== null))
}

export const parseTask = defineTask<ParsePayload, ParseResult, TaskServices>({
  kind: 'parse',
  payload: ParsePayloadSchema,
  // Transient failures (network, 429/5xx, a block page) are retried with back-off; a removed
  // listing or a page that is not a listing fails at once (AppError codes marked permanent).
  retry: { maxAttempts: 3, backoffSeconds: 5, backoffMaxSeconds: 120 },
  timeoutSeconds: 120,
  // A second parse of the same URL for the same session while one is queued or running returns that job.
  dedupeKey: (payload) => `${payload.session_id}\n${payload.url}`,
  admit(payload, services) {
    checkListingUrl(payload.url, services.config)
  },
  async handler(payload, ctx) {
    const { fetcher, sessions, listings } = ctx.deps
    await ctx.progress(10, 'Инициализация парсера...')
    await ctx.progress(20, 'Загрузка страницы...')
    const page = await fetcher.fetchPage(payload.url, { signal: ctx.signal })
    await ctx.progress(40, 'Извлечение данных...')
    // Loaded on the first parse, not at start: cheerio, parse5, htmlparser2 and undici (cheerio's
    // fromURL) are ~16 MB of an idle worker's RSS (bench/RESULTS.md, scenario f).
    const { parsePage } = await import('./parse-page.ts')
    const outcome = parsePage(page.body, page.url)
    if (outcome.blocked) {
      throw new AppError('SiteBlocked', `Blocked by ${outcome.site}: ${outcome.reason}. Try again later`, {
        details: { site: outcome.site, reason: outcome.reason },
      })
    }
    if (!looksLikeListing(outcome.property)) {
      throw new AppError('NotAListing', `The page at ${payload.url} is not a listing`)
    }
    await ctx.progress(80, 'Сохранение результата...')
    await sessions.saveTarget(payload.session_id, payload.url, outcome.property)
    await listings.upsert([outcome.property])
    await ctx.progress(100, 'Готово')
    return { success: true, data: outcome.property, session_id: payload.session_id }
  },
})
