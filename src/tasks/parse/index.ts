import { createHash } from 'node:crypto'
import { z } from 'zod'
import { AppError } from '../../errors.ts'
import { checkListingUrl, type FetchAttempt } from '../../fetch/index.ts'
import { pageJudge } from '../page-judge.ts'
import type { TaskServices } from '../services.ts'
import { defineTask, SessionIdSchema } from '../types.ts'
import { checkAddedAnalog } from './added-analog.ts'
import type { Property } from './property.ts'

/** The most HTML one submission may carry (the route's body limit bounds it too). */
export const MAX_SUBMITTED_HTML_CHARS = 50_000_000

export const ParsePayloadSchema = z.object({
  url: z.string().min(1, 'url is required').max(2048),
  session_id: SessionIdSchema,
  /** The page as the user's own browser shows it: parsed instead of fetched, the URL only names the listing. */
  html: z.string().min(1, 'html is empty').max(MAX_SUBMITTED_HTML_CHARS).optional(),
  /**
   * target: the session's flat (saved as its target); analog: a comparable's own page, only stored;
   * added_analog: an analog the user added by hand, added to the session if it matches the target.
   * Absent means target, so a client's own payload is stored (and shown by RQ's tools) as it sent it.
   */
  role: z.enum(['target', 'analog', 'added_analog']).optional(),
})
export type ParsePayload = z.infer<typeof ParsePayloadSchema>
/** `source`: who got the page — our fetcher ('server') or the user's browser ('browser'). */
/** `attempts`: what each fetch strategy got (strategy, proxy, outcome, ms), the successful one last; [] for a page from the browser. */
export type ParseResult = { success: true; data: Property; session_id: string; source: 'server' | 'browser'; attempts: FetchAttempt[] }

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
  // A page sent from the browser is its own job: it must not be answered by a fetch already running.
  dedupeKey: (payload) =>
    `${payload.session_id}\n${payload.url}${(payload.role ?? 'target') === 'target' ? '' : `\n${payload.role}`}` +
    (payload.html === undefined ? '' : `\nhtml:${createHash('sha256').update(payload.html).digest('hex')}`),
  admit(payload, services) {
    checkListingUrl(payload.url, services.config)
  },
  async handler(payload, ctx) {
    const { fetcher, sessions, listings } = ctx.deps
    await ctx.progress(10, 'Инициализация парсера...')
    const fromBrowser = payload.html !== undefined
    // Loaded on the first parse, not at start: the HTML parsers are most of an idle worker's memory.
    const { readPage } = await import('./parse-page.ts')
    let reading: ReturnType<typeof readPage>
    let attempts: FetchAttempt[] = []
    if (payload.html !== undefined) {
      await ctx.progress(20, 'Страница получена из браузера...')
      await ctx.progress(40, 'Извлечение данных...')
      reading = readPage(payload.html, payload.url)
    } else {
      await ctx.progress(20, 'Загрузка страницы...')
      // The ladder's judge: a block or challenge page sends the fetch to the next strategy.
      const judged = pageJudge((candidate) => {
        const read = readPage(candidate.body, candidate.url)
        return read.page_kind === 'blocked' ? { blocked: true, reason: read.reason, site: read.site, read } : { blocked: false, read }
      }, ctx)
      const page = await fetcher.fetchPage(payload.url, { signal: ctx.signal, ...judged.options })
      await ctx.progress(40, 'Извлечение данных...')
      reading = judged.outcomeOf(page).read
      attempts = page.attempts
    }
    if (reading.page_kind === 'blocked') {
      const details = { site: reading.site, reason: reading.reason }
      // The user's own copy of a captcha page stays one: retrying it cannot help.
      if (fromBrowser) {
        throw new AppError('PermanentTaskFailure', `The page sent from the browser is a block page (${reading.site}: ${reading.reason}); pass the check in the browser and send the listing again`, { details: { ...details, code: 'SiteBlocked' } })
      }
      throw new AppError('SiteBlocked', `Blocked by ${reading.site}: ${reading.reason}. Try again later`, { details })
    }
    if (reading.page_kind === 'serp') {
      throw new AppError('NotAListing', `The page at ${payload.url} is a search-results page with ${reading.cards.length} listings, not one listing; import it with POST /api/listings/import`, {
        details: { page_kind: 'serp', cards: reading.cards.length },
      })
    }
    if (!looksLikeListing(reading.property)) {
      throw new AppError('NotAListing', `The page at ${payload.url} is not a listing`)
    }
    await ctx.progress(80, 'Сохранение результата...')
    if (payload.role === 'added_analog') {
      const session = await sessions.find(payload.session_id)
      checkAddedAnalog(reading.property, session?.target ?? null)
    }
    if ((payload.role ?? 'target') === 'target') await sessions.saveTarget(payload.session_id, payload.url, reading.property)
    await listings.upsert([reading.property], { page: true })
    if (payload.role === 'added_analog') await sessions.addAnalog(payload.session_id, reading.property)
    await ctx.progress(100, 'Готово')
    return { success: true, data: reading.property, session_id: payload.session_id, source: fromBrowser ? 'browser' : 'server', attempts }
  },
})
