import { Hono } from 'hono'
import { z } from 'zod'
import { AppError } from '../errors.ts'
import type { PdfRenderer } from '../pdf/index.ts'
import type { Queue } from '../queue/index.ts'
import type { IntakeTokens, ShareStore } from '../store/index.ts'
import type { Property } from '../tasks/parse/property.ts'
import { ManualTargetSchema, manualTargetToProperty } from '../tasks/find-similar/manual-target.ts'
import { FindSimilarPayloadSchema } from '../tasks/find-similar/index.ts'
import { ParsePayloadSchema } from '../tasks/parse/index.ts'
import type { SessionRecord, StoredReport } from '../tasks/services.ts'
import { SessionIdSchema } from '../tasks/types.ts'
import { EnqueueMetaSchema } from './contract.ts'
import type { RateLimiter } from './rate-limit.ts'
import { parseWith, readJsonObject } from './validate.ts'
import { pdfResponse, REPORT_CSP } from './valuation-routes.ts'

export type DomainReaders = {
  sessions: { find(sessionId: string): Promise<SessionRecord | undefined> }
  reports: { find(id: string): Promise<StoredReport | undefined> }
  intake: IntakeTokens
  listings: { upsert(properties: readonly Property[]): Promise<number> }
  /** Share links; without them the share routes are not served. */
  shares?: ShareStore
}

// The steps' own fields, so the pipeline takes exactly what parse and find-similar take, defaults included.
const PipelineSchema = z.object({
  /** The listing to value, or target_property: a flat typed in by hand. */
  url: ParsePayloadSchema.shape.url.optional(),
  target_property: ManualTargetSchema.optional(),
  session_id: SessionIdSchema,
  search_strategy: FindSimilarPayloadSchema.shape.search_strategy,
  limit: FindSimilarPayloadSchema.shape.limit,
  source: FindSimilarPayloadSchema.shape.source,
  priority: EnqueueMetaSchema.shape.priority,
}).refine((body) => (body.url === undefined) !== (body.target_property === undefined), {
  message: 'give either url or target_property',
  path: ['url'],
})

/** The product's own routes: the parse → analogs → report pipeline, sessions and reports. */
export function createDomainRoutes(queue: Queue, readers: DomainReaders, rateLimit: RateLimiter, extra: { pdf: PdfRenderer }): Hono {
  const routes = new Hono()

  routes.post('/api/tasks/pipeline', rateLimit.middleware, async (c) => {
    const body = parseWith(PipelineSchema, await readJsonObject(c), 'pipeline request')
    const common = { sessionId: body.session_id, priority: body.priority }
    const search = { session_id: body.session_id, search_strategy: body.search_strategy, limit: body.limit, source: body.source }
    const steps = body.target_property
      ? [
          // No listing to parse: the owner's flat becomes the session's target as the search starts.
          { ref: 'find-similar', kind: 'find-similar', payload: { ...search, target_property: manualTargetToProperty(body.target_property), save_target: true }, ...common },
          { ref: 'report', kind: 'report', payload: { session_id: body.session_id }, dependsOn: ['find-similar'], ...common },
        ]
      : [
          { ref: 'parse', kind: 'parse', payload: { url: body.url, session_id: body.session_id }, ...common },
          { ref: 'find-similar', kind: 'find-similar', payload: search, dependsOn: ['parse'], ...common },
          { ref: 'report', kind: 'report', payload: { session_id: body.session_id }, dependsOn: ['find-similar'], ...common },
        ]
    const ids = await queue.enqueueFlow(steps)
    return c.json(
      {
        status: 'queued',
        message: 'Pipeline queued successfully',
        jobs: Object.fromEntries(
          steps.map((step) => [step.ref, { job_id: ids[step.ref], poll_url: `/api/tasks/status/${ids[step.ref]}` }]),
        ),
        job_id: ids.report,
        poll_url: `/api/tasks/status/${ids.report}`,
      },
      202,
    )
  })

  routes.get('/api/sessions/:session_id', async (c) => {
    const sessionId = parseWith(SessionIdSchema, c.req.param('session_id'), 'session_id')
    const session = await readers.sessions.find(sessionId)
    if (!session) throw new AppError('NotFound', `No session ${sessionId}`, { details: { session_id: sessionId } })
    return c.json(session)
  })

  routes.get('/api/reports/:id', async (c) => {
    const id = parseWith(z.uuid(), c.req.param('id'), 'report id')
    const report = await readers.reports.find(id)
    if (!report) throw new AppError('NotFound', `No report ${id}`, { details: { report_id: id } })
    const format = c.req.query('format') ?? 'html'
    if (format === 'md') {
      c.header('Content-Disposition', `attachment; filename="housler-report-${id}.md"`)
      return c.body(report.markdown, 200, { 'Content-Type': 'text/markdown; charset=utf-8' })
    }
    if (format === 'json') return c.json(report.valuation)
    if (format === 'pdf') return pdfResponse(c, extra.pdf, report)
    if (format !== 'html') throw new AppError('ValidationFailed', 'format must be html, md, json or pdf', { details: { format } })
    if (c.req.query('download') !== undefined) c.header('Content-Disposition', `attachment; filename="housler-report-${id}.html"`)
    c.header('Content-Security-Policy', REPORT_CSP)
    return c.html(report.html)
  })

  return routes
}
