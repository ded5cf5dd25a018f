import { Hono, type Context } from 'hono'
import { z } from 'zod'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import type { PdfRenderer } from '../pdf/index.ts'
import type { Queue } from '../queue/index.ts'
import type { ShareStore } from '../store/index.ts'
import { ParsePayloadSchema } from '../tasks/parse/index.ts'
import type { StoredReport } from '../tasks/services.ts'
import type { RateLimiter } from './rate-limit.ts'
import { signShareToken, verifyShareToken } from './share-links.ts'
import { parseWith, readJsonObject } from './validate.ts'

export type ValuationRouteDeps = {
  config: Config
  queue: Queue
  reports: { find(id: string): Promise<StoredReport | undefined> }
  shares: ShareStore
  pdf: PdfRenderer
  rateLimit: RateLimiter
}

/** The report's HTML may only style itself: no scripts, no requests, not framed by others. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

export async function pdfResponse(c: Context, pdf: PdfRenderer, report: StoredReport) {
  const body = await pdf.render(report.html)
  c.header('Content-Disposition', `${c.req.query('download') === undefined ? 'inline' : 'attachment'}; filename="housler-report-${report.id}.pdf"`)
  return c.body(new Uint8Array(body), 200, { 'Content-Type': 'application/pdf' })
}

const ShareRequestSchema = z.object({ ttl_seconds: z.number().int().min(60).max(365 * 86400).optional() }).strict()
/** A listing URL, or a saved page as the parse route takes it (`html`, the URL naming the listing). */
const AddAnalogSchema = ParsePayloadSchema.pick({ url: true, html: true }).strict()
/** Takes a whole page: app.ts gives it the page body limit (gzip decoded) of the parse route. */
export const ADDED_ANALOG_PATH = /^\/api\/sessions\/[^/]+\/analogs$/
const NOT_SHARED = 'Ссылка на отчёт недействительна: она отозвана, истекла или неверна'

/** Analogs added by hand, and share links: signed, expiring, revocable, read-only URLs of a report. */
export function createValuationRoutes(deps: ValuationRouteDeps): Hono {
  const { config, queue, reports, shares, pdf } = deps
  const routes = new Hono()

  async function getReport(id: string): Promise<StoredReport> {
    const report = await reports.find(id)
    if (!report) throw new AppError('NotFound', `No report ${id}`, { details: { report_id: id } })
    return report
  }

  routes.post('/api/sessions/:session_id/analogs', deps.rateLimit.middleware, async (c) => {
    const sessionId = parseWith(z.string().min(1).max(200), c.req.param('session_id'), 'session_id')
    const body = parseWith(AddAnalogSchema, await readJsonObject(c), 'analog')
    const { jobId, status } = await queue.enqueue({ kind: 'parse', payload: { ...body, session_id: sessionId, role: 'added_analog' }, sessionId })
    return c.json({ job_id: jobId, status, message: 'Analog queued for parsing', poll_url: `/api/tasks/status/${jobId}` }, 202)
  })

  routes.post('/api/reports/:id/share', async (c) => {
    const id = parseWith(z.uuid(), c.req.param('id'), 'report id')
    // A body is optional (no options): only a present one must be a JSON object.
    const hasBody = Number(c.req.header('content-length') ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined
    const body = parseWith(ShareRequestSchema, hasBody ? await readJsonObject(c) : {}, 'share request')
    await getReport(id)
    const expiresAt = new Date(Date.now() + (body.ttl_seconds ?? config.shareLinkTtlSeconds) * 1000)
    const shareId = await shares.create(id, expiresAt)
    const path = `/shared/${signShareToken(await shares.secret(config.shareLinkSecret), shareId, expiresAt)}`
    return c.json({ share_id: shareId, path, url: new URL(path, c.req.url).href, pdf_url: new URL(`${path}?format=pdf`, c.req.url).href, expires_at: expiresAt.toISOString() }, 201)
  })

  routes.delete('/api/reports/:id/share/:share_id', async (c) => {
    const id = parseWith(z.uuid(), c.req.param('id'), 'report id')
    const shareId = parseWith(z.uuid(), c.req.param('share_id'), 'share id')
    const share = await shares.find(shareId)
    if (!share || share.report_id !== id) throw new AppError('NotFound', `No share ${shareId} of report ${id}`, { details: { share_id: shareId } })
    await shares.revoke(shareId)
    return c.json({ share_id: shareId, revoked: true })
  })

  return routes
}

/** A shared report: the signed token in the path is the credential, so the group is public. */
export function createSharedReportRoutes(deps: Pick<ValuationRouteDeps, 'config' | 'reports' | 'shares' | 'pdf'>): Hono {
  const { config, reports, shares, pdf } = deps
  const routes = new Hono()
  routes.get('/shared/:token', async (c) => {
    const verified = verifyShareToken(await shares.secret(config.shareLinkSecret), c.req.param('token'))
    const share = verified && (await shares.find(verified.shareId))
    if (!share || share.revoked_at !== null || share.expires_at.getTime() <= Date.now()) {
      throw new AppError('NotFound', NOT_SHARED, { details: { reason: 'invalid_or_revoked' } })
    }
    const report = await reports.find(share.report_id)
    if (!report) throw new AppError('NotFound', NOT_SHARED, { details: { reason: 'report_gone' } })
    c.header('Cache-Control', 'private, no-store')
    c.header('X-Robots-Tag', 'noindex')
    const format = c.req.query('format') ?? 'html'
    if (format === 'pdf') return pdfResponse(c, pdf, report)
    if (format !== 'html') throw new AppError('ValidationFailed', 'format must be html or pdf', { details: { format } })
    c.header('Content-Security-Policy', REPORT_CSP)
    return c.html(report.html)
  })

  return routes
}
