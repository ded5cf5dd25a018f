import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { AppError } from '../../errors.ts'
import { PropertySchema, type Property } from '../parse/property.ts'
import type { TaskServices } from '../services.ts'
import { defineTask, SessionIdSchema } from '../types.ts'
import type { Advice } from './advice.ts'
import type { ReportComparable } from './render.ts'
import type { SaleScenarios } from './scenarios.ts'
import type { Valuation } from './valuation.ts'

export const ReportPayloadSchema = z.object({
  session_id: SessionIdSchema,
  /** Explicit input instead of the session's target and comparables. */
  target: PropertySchema.optional(),
  comparables: z.array(PropertySchema.passthrough()).max(500).optional(),
  /** Values the user filled in (repair, ceiling height…): they change the valuation. */
  overrides: z
    .object({
      repair: z.string().max(100).optional(),
      ceiling_height: z.number().min(2).max(10).optional(),
      year_built: z.number().int().min(1700).max(2100).optional(),
      living_area: z.number().positive().max(100000).optional(),
      floor: z.number().int().min(-5).max(200).optional(),
      floors_total: z.number().int().min(1).max(200).optional(),
    })
    .optional(),
  /** Analogs the user excluded, by URL: remembered in the session; absent, the session's list is used. */
  exclude_urls: z.array(z.string().max(2048)).max(500).optional(),
})
export type ReportPayload = z.infer<typeof ReportPayloadSchema>
export type ReportResult = {
  success: true
  report_id: string
  report_url: string
  markdown_url: string
  pdf_url: string
  valuation: ReportValuation
  session_id: string
}

/** The stored valuation: the price, the sale scenarios, the advice and the user's analog changes. */
export type ReportValuation = Valuation & {
  scenarios: SaleScenarios
  advice: Advice
  user_changes: { added_urls: string[]; excluded_urls: string[] }
}

export const reportTask = defineTask<ReportPayload, ReportResult, TaskServices>({
  kind: 'report',
  payload: ReportPayloadSchema,
  retry: { maxAttempts: 2, backoffSeconds: 2, backoffMaxSeconds: 30 },
  timeoutSeconds: 60,
  async handler(payload, ctx) {
    const { sessions, reports } = ctx.deps
    await ctx.progress(10, 'Загрузка данных сессии...')
    // Loaded on the first report, not at start: the renderers build Intl formatters (ICU data) when loaded.
    const [{ valuate }, { estimateScenarios }, { adviseOwner }, { renderReportHtml, renderReportMarkdown }] =
      await Promise.all([import('./valuation.ts'), import('./scenarios.ts'), import('./advice.ts'), import('./render.ts')])
    const session = await sessions.find(payload.session_id)
    const fromParents = ctx.parents.map((parent) => parent.result as { data?: Property; comparables?: Property[] } | null)
    const target = payload.target ?? fromParents.find((r) => r?.data)?.data ?? session?.target
    const found = (payload.comparables ?? fromParents.find((r) => r?.comparables)?.comparables ?? session?.comparables ?? []) as ReportComparable[]
    if (!target) throw new AppError('PermanentTaskFailure', 'No target property in this session: run parse first')
    // Analogs the user added by hand join the found ones (replacing a found one with the same URL).
    const added: ReportComparable[] = (session?.added_analogs ?? []).map((a) => ({ ...a, added_by_user: true }))
    const addedUrls = new Set(added.map((a) => a.url))
    const comparables = [...found.filter((c) => !addedUrls.has(c.url)), ...added]
    const excludedUrls = [...new Set(payload.exclude_urls ?? session?.excluded_urls ?? [])]
    if (payload.exclude_urls) await sessions.saveExcluded(payload.session_id, excludedUrls)
    const excluded = new Set(excludedUrls)
    const used = comparables.filter((c) => !excluded.has(c.url))
    if (used.length === 0) throw new AppError('NotEnoughAnalogs', 'No comparables to value against: run find-similar first')
    await ctx.progress(40, 'Расчёт справедливой цены...')
    let valuation: Valuation
    try {
      valuation = valuate(target, used, { overrides: payload.overrides })
    } catch (error) {
      // Keep the valuation's own code (NotEnoughAnalogs, ...): the wizard explains a failure by it.
      const code = error instanceof AppError ? error.code : 'PermanentTaskFailure'
      throw new AppError(code, `Valuation impossible: ${(error as Error).message}`, { cause: error })
    }
    await ctx.progress(55, 'Сценарии и срок экспозиции...')
    const history = await ctx.deps.listings.history(valuation.used_urls)
    const scenarios = estimateScenarios({ fairPrice: valuation.fair_price, marketPerSqm: valuation.price_per_sqm.base_median, history, now: new Date(), deal: valuation.deal_type })
    const advice = adviseOwner(valuation, used, scenarios)
    const extras = { scenarios, advice, added: added.filter((a) => !excluded.has(a.url)), excluded: excludedUrls }
    const full: ReportValuation = { ...valuation, scenarios, advice, user_changes: { added_urls: [...addedUrls], excluded_urls: excludedUrls } }
    await ctx.progress(70, 'Формирование отчёта...')
    const id = randomUUID()
    const input = { valuation, target, comparables: used, extras, generated_at: new Date().toISOString(), report_id: id }
    await reports.save({ id, job_id: ctx.jobId, session_id: payload.session_id, valuation: full, html: renderReportHtml(input), markdown: renderReportMarkdown(input) })
    await sessions.saveReport(payload.session_id, id)
    await ctx.progress(100, 'Отчёт готов')
    return {
      success: true,
      report_id: id,
      report_url: `/api/reports/${id}`,
      markdown_url: `/api/reports/${id}?format=md`,
      pdf_url: `/api/reports/${id}?format=pdf`,
      valuation: full,
      session_id: payload.session_id,
    }
  },
})
