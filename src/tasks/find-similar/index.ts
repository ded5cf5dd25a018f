import { z } from 'zod'
import { AppError } from '../../errors.ts'
import { emptyProperty, PropertySchema, type Property } from '../parse/property.ts'
import { refineWithPages, type RefinedAnalog } from './analog-pages.ts'
import { buildCianSearchUrl } from './search-url.ts'
import { cianRegionId } from './regions.ts'
import { findAnalogs, STRATEGIES, STRATEGY_STEPS, type AnalogSource } from './strategy.ts'
import { STEP_LABELS, summarizeSearch, type SearchSummary } from './summary.ts'
import type { AnalogQuery } from './query.ts'
import type { RankedAnalog } from './rank.ts'
import type { FetchAttempt } from '../../fetch/index.ts'
import { pageJudge } from '../page-judge.ts'
import type { TaskServices } from '../services.ts'
import { defineTask, SessionIdSchema, type TaskContext } from '../types.ts'
import type { SerpOutcome } from './serp-cian.ts'

const TargetSchema = PropertySchema.partial().extend({
  price: z.number().nonnegative().nullable().optional(),
  total_area: z.number().positive().nullable().optional(),
  rooms: z.number().int().nonnegative().nullable().optional(),
})

export const FindSimilarPayloadSchema = z.object({
  session_id: SessionIdSchema,
  /** When absent, the session's parsed target is used. */
  target_property: TargetSchema.optional(),
  limit: z.number().int().min(1).max(100).default(20),
  search_strategy: z.enum(STRATEGIES).default('citywide'),
  /** live: cian search pages through the safe fetcher; store: listings already seen; both: store then live. */
  source: z.enum(['store', 'live', 'both']).default('both'),
  /** target_property becomes the session's target (a flat typed in by hand, with no listing to parse). */
  save_target: z.boolean().default(false),
})
export type FindSimilarPayload = z.infer<typeof FindSimilarPayloadSchema>
export type FindSimilarResult = {
  success: true
  count: number
  comparables: RefinedAnalog[]
  session_id: string
  steps: unknown[]
  /** Why the search found what it found (summary.ts). */
  summary: SearchSummary
  /** Every live search page fetch try (strategy, proxy, outcome, ms). */
  fetch_attempts: FetchAttempt[]
}

const MAX_LIVE_PAGES = 2

/** Live analogs: cian search pages fetched safely (FETCH_REWRITE may serve them from a mirror), cards upserted. */
export function createLiveSource(
  services: TaskServices,
  notices: Set<string> = new Set(),
  progress?: Pick<TaskContext, 'progress'>,
  attempts?: FetchAttempt[],
): AnalogSource {
  return {
    async search(query: AnalogQuery, signal?: AbortSignal): Promise<Property[]> {
      const found: Property[] = []
      const location = query.cian_location
      if (location === null && cianRegionId(query.region) === undefined) {
        notices.add('Этот город пока не охвачен поиском на ЦИАН: искали только среди объявлений, которые сервис уже видел.')
        return found
      }
      if (location?.level === 'oblast') {
        notices.add(`У ЦИАН нет отдельного кода этого города: искали по региону «${location.name ?? 'область объекта'}» и оставили только объявления того же города.`)
      }
      for (let page = 1; page <= MAX_LIVE_PAGES && found.length < query.limit; page++) {
        const url = buildCianSearchUrl({ ...query, page })
        // Loaded on first use: the HTML parser is most of an idle worker's task code (see parse/index.ts).
        const { parseCianSerp } = await import('./serp-cian.ts')
        const judged = pageJudge<SerpOutcome>((candidate) => parseCianSerp(candidate.body, candidate.url), progress)
        const fetched = await services.fetcher.fetchPage(url, { signal, ...judged.options })
        attempts?.push(...fetched.attempts)
        const outcome = judged.outcomeOf(fetched)
        if (outcome.blocked) throw new AppError('SiteBlocked', `Blocked by ${outcome.site}: ${outcome.reason}. Try again later`)
        await services.listings.upsert(outcome.cards)
        found.push(...outcome.cards)
        if (outcome.cards.length === 0) break
      }
      return found
    },
  }
}

function combinedSource(
  services: TaskServices,
  mode: FindSimilarPayload['source'],
  notices: Set<string>,
  progress: Pick<TaskContext, 'progress'>,
  attempts: FetchAttempt[],
): AnalogSource {
  const store: AnalogSource = { search: (query) => services.listings.search(query) }
  if (mode === 'store') return store
  const live = createLiveSource(services, notices, progress, attempts)
  if (mode === 'live') return live
  return {
    async search(query, signal) {
      const stored = await store.search(query, signal)
      if (stored.length >= query.limit) return stored
      try {
        return [...stored, ...(await live.search(query, signal))]
      } catch (error) {
        // The store answered: a site that blocks or fails must not lose what we already have.
        if (stored.length > 0 && error instanceof AppError && error.code !== 'JobCanceled') {
          notices.add('Сайт объявлений не ответил или попросил проверку «я не робот»: показаны объявления, которые сервис уже видел.')
          return stored
        }
        throw error
      }
    },
  }
}

export const findSimilarTask = defineTask<FindSimilarPayload, FindSimilarResult, TaskServices>({
  kind: 'find-similar',
  payload: FindSimilarPayloadSchema,
  retry: { maxAttempts: 3, backoffSeconds: 5, backoffMaxSeconds: 120 },
  timeoutSeconds: 180,
  spawnsChildren: true,
  async handler(payload, ctx) {
    const { sessions } = ctx.deps
    await ctx.progress(10, 'Подготовка поиска...')
    const session = await sessions.find(payload.session_id)
    const parentTarget = ctx.parents.map((parent) => (parent.result as { data?: Property } | null)?.data).find(Boolean)
    const base = parentTarget ?? session?.target ?? null
    const target: Property = { ...emptyProperty('generic', ''), ...(base ?? {}), ...(payload.target_property ?? {}) } as Property
    if (target.price === null && target.total_area === null) {
      throw new AppError('ValidationFailed', 'No target property: parse a listing for this session or pass target_property')
    }
    if (payload.save_target) await sessions.saveTarget(payload.session_id, target.url, target)
    await ctx.progress(20, 'Поиск аналогов...')
    const notices = new Set<string>()
    const ladder = STRATEGY_STEPS[payload.search_strategy]
    const started = Date.now()
    const attempts: FetchAttempt[] = []
    const result = await findAnalogs(target, payload.search_strategy, combinedSource(ctx.deps, payload.source, notices, ctx, attempts), {
      limit: payload.limit,
      signal: ctx.signal,
      // One progress line per step, in Russian: which step, how far along, what it found so far.
      onStep: async (step) => {
        const n = Math.max(1, ladder.indexOf(step.name === 'main_relaxed' ? 'main' : step.name) + 1)
        const seconds = Math.round((Date.now() - started) / 1000)
        const what = step.skipped ?? `найдено ${step.found}, подходят ${step.kept}`
        await ctx.progress(20 + Math.round((50 * n) / ladder.length), `Шаг ${n} из ${ladder.length}: ${STEP_LABELS[step.name]} — ${what} (${seconds} с)`)
      },
    })
    await ctx.progress(70, `Найдено ${result.analogs.length} объектов...`)
    // A store-only search makes no request to the sites: it uses only pages already parsed.
    const refined = await refineWithPages(result.analogs, ctx, { sessionId: payload.session_id, fetch: payload.source !== 'store' })
    await sessions.saveComparables(payload.session_id, refined.analogs)
    await ctx.progress(100, 'Поиск завершен')
    return {
      success: true,
      count: refined.analogs.length,
      comparables: refined.analogs,
      session_id: payload.session_id,
      steps: result.steps.map(({ name, skipped, found, kept, rejected }) => ({ name, skipped, found, kept, rejected })),
      summary: summarizeSearch(target, payload.search_strategy, result.steps, result.rejected, [...notices]),
      fetch_attempts: attempts,
    }
  },
})
