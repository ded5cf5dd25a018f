import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import { html } from 'hono/html'
import { z } from 'zod'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import { checkListingUrl, isListingHost } from '../fetch/index.ts'
import type { Queue } from '../queue/index.ts'
import type { IntakeTokens } from '../store/index.ts'
import type { Property } from '../tasks/parse/property.ts'
import type { RateLimiter } from './rate-limit.ts'
import { findUnstorableText, parseWith, readJsonObject } from './validate.ts'

/** The one route a listing site's page may post to (the bookmarklet), and so the one with CORS for them. */
export const INTAKE_PATH = '/api/intake'
export const IMPORT_PATH = '/api/listings/import'

export type IntakeDeps = {
  config: Config
  queue: Queue
  intake: IntakeTokens
  listings: { upsert(properties: readonly Property[]): Promise<number> }
}

const SessionIdSchema = z.string().min(1).max(200)
const SubmissionSchema = z.object({
  session_id: SessionIdSchema,
  token: z.string().min(1, 'token is required').max(200),
  url: z.string().min(1, 'url is required').max(2048),
  html: z.string().min(1, 'html is empty'),
})

/**
 * CORS for the listing sites' own origins (https://spb.cian.ru…), on the intake route only: a page
 * there may post itself to us, and learn whether it arrived. No credentials: the token is the key.
 */
export function intakeCors(config: Pick<Config, 'listingHosts'>): MiddlewareHandler {
  return cors({
    origin: (origin) => {
      try {
        const { protocol, hostname } = new URL(origin)
        return (protocol === 'https:' || protocol === 'http:') && isListingHost(hostname, config.listingHosts) ? origin : null
      } catch {
        return null
      }
    },
    allowMethods: ['POST'],
    allowHeaders: ['Content-Type', 'Content-Encoding'],
    maxAge: 600,
  })
}

/** Pages sent from the user's own browser: the bookmarklet's token, its submissions, and bulk imports. */
export function createIntakeRoutes(deps: IntakeDeps, rateLimit: RateLimiter): { client: Hono; submit: Hono } {
  const { config, queue, intake, listings } = deps
  const routes = new Hono()
  const submit = new Hono()

  routes.post('/api/sessions/:session_id/intake-token', async (c) => {
    const sessionId = parseWith(SessionIdSchema, c.req.param('session_id'), 'session_id')
    const issued = await intake.issue(sessionId, config.intakeTokenTtlSeconds)
    c.header('Cache-Control', 'no-store')
    return c.json({ session_id: sessionId, token: issued.token, expires_at: issued.expires_at, submit_path: INTAKE_PATH }, 201)
  })

  routes.get('/api/sessions/:session_id/intake', async (c) => {
    const sessionId = parseWith(SessionIdSchema, c.req.param('session_id'), 'session_id')
    const latest = await intake.latest(sessionId)
    // "Nothing yet" is the normal answer while the wizard waits for the bookmarklet, not an error.
    if (!latest) return c.json({ session_id: sessionId, received: false, job_id: null })
    return c.json({ session_id: sessionId, received: true, ...latest, poll_url: `/api/tasks/status/${latest.job_id}` })
  })

  submit.post(INTAKE_PATH, rateLimit.middleware, async (c) => {
    // A browser's form post (the bookmarklet) opened a tab: success is a page in words. A refusal stays the
    // API's JSON error, with a Russian hint in its details for the person looking at that tab.
    const asPage = isFormPost(c) && /text\/html/i.test(c.req.header('accept') ?? '')
    try {
      const body = parseWith(SubmissionSchema, await readSubmission(c, isFormPost(c)), 'page submission')
      if (!(await intake.verify(body.session_id, body.token))) {
        throw new AppError('Forbidden', 'This token does not open that session: take a fresh bookmarklet from the wizard of your own session', {
          details: { session_id: body.session_id },
        })
      }
      const { readPage, siteFor } = await import('../tasks/parse/parse-page.ts')
      const reading = readPage(body.html, body.url)
      if (reading.page_kind === 'serp') {
        checkUrl(body.url, config)
        const imported = await listings.upsert(reading.cards.filter((card) => card.offer_id !== null))
        const answer = { page_kind: 'serp' as const, imported, cards: reading.cards.length, source: siteFor(body.url).source }
        return asPage ? c.html(receivedPage(`Добавлено объявлений в базу аналогов: ${imported}.`), 200) : c.json(answer, 200)
      }
      // The queue parses and admits the payload (the listing-URL policy included) exactly once.
      const enqueued = await queue.enqueue({ kind: 'parse', payload: { url: body.url, session_id: body.session_id, html: body.html }, sessionId: body.session_id })
      const jobId = enqueued.jobId
      await intake.record(body.token, jobId, body.url)
      const answer = { job_id: jobId, status: enqueued.status, message: 'Page received from the browser', poll_url: `/api/tasks/status/${jobId}`, page_kind: reading.page_kind }
      return asPage ? c.html(receivedPage('Страница получена. Вернитесь во вкладку Housler — оценка продолжится там.'), 202) : c.json(answer, 202)
    } catch (e) {
      const err = coerceError(e)
      if (!(err instanceof AppError)) throw err
      const details = err.details !== null && typeof err.details === 'object' && !Array.isArray(err.details) ? err.details : { issues: err.details ?? null }
      throw new AppError(err.code, err.message, { cause: err, details: { ...details, code: err.code, hint_ru: `Страница не принята: ${refusalText(err)}` } })
    }
  })

  routes.post(IMPORT_PATH, rateLimit.middleware, async (c) => {
    const type = (c.req.header('content-type') ?? '').toLowerCase()
    const { planRowImport, csvRows } = await import('../tasks/parse/import-listings.ts')
    const { readPage, siteFor } = await import('../tasks/parse/parse-page.ts')
    const siteOf = (url: string) => siteFor(url).source
    if (/^text\/html\b/.test(type)) {
      const url = c.req.query('url') ?? c.req.header('x-page-url') ?? ''
      checkUrl(url, config)
      const reading = readPage(await c.req.text(), url)
      if (reading.page_kind === 'blocked') {
        throw new AppError('ValidationFailed', `The page is a block page (${reading.reason}), not search results`, { details: { page_kind: 'blocked', reason: reading.reason } })
      }
      const cards = reading.page_kind === 'serp' ? reading.cards : [reading.property]
      const kept = cards.filter((card) => card.offer_id !== null && card.price !== null)
      const imported = await listings.upsert(kept)
      return c.json({ page_kind: reading.page_kind, imported, total_rows: cards.length, rejected: cards.length - kept.length })
    }
    let rows: unknown[]
    if (/^text\/csv\b/.test(type)) rows = csvRows(await c.req.text())
    else {
      const body = await readJsonArrayOrObject(c)
      rows = Array.isArray(body) ? body : Array.isArray(body.rows) ? body.rows : []
      if (!Array.isArray(body) && !Array.isArray(body.rows)) {
        throw new AppError('ValidationFailed', 'Send a JSON array of listings, or {"rows": [...]}', { details: { expected: ['array', 'rows'] } })
      }
    }
    if (rows.length === 0) throw new AppError('ValidationFailed', 'No rows to import', { details: { rows: 0 } })
    const plan = planRowImport(rows, config, siteOf)
    if (plan.listings.length === 0) {
      throw new AppError('ValidationFailed', 'No row could be imported', { details: { imported: 0, total_rows: plan.total_rows, rejected: plan.rejected } })
    }
    const imported = await listings.upsert(plan.listings)
    return c.json({ imported, total_rows: plan.total_rows, rejected: plan.rejected })
  })

  return { client: routes, submit }
}

function checkUrl(url: string, config: Config): void {
  // The parse kind's admission check (tasks/parse admit): one rule for every way a page arrives.
  checkListingUrl(url, config)
}

function isFormPost(c: Context): boolean {
  return /^(multipart\/form-data|application\/x-www-form-urlencoded)\b/i.test(c.req.header('content-type') ?? '')
}

async function readSubmission(c: Context, asForm: boolean): Promise<Record<string, unknown>> {
  if (!asForm) return readJsonObject(c)
  let form: FormData
  try {
    form = await c.req.raw.formData()
  } catch {
    throw new AppError('ValidationFailed', 'The form body could not be read', { details: null })
  }
  const fields: Record<string, unknown> = {}
  for (const key of ['session_id', 'token', 'url', 'html']) {
    const value = form.get(key)
    if (typeof value === 'string') fields[key] = value
    else if (value !== null) fields[key] = await value.text()
  }
  const unstorable = findUnstorableText(fields)
  if (unstorable !== undefined) throw new AppError('ValidationFailed', 'The form contains text that cannot be stored', { details: { path: unstorable } })
  return fields
}

async function readJsonArrayOrObject(c: Context): Promise<Record<string, unknown> | unknown[]> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError('ValidationFailed', 'Content-Type must be application/json, text/csv or text/html', { details: { content_type: type || null } })
  }
  const text = await c.req.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new AppError('ValidationFailed', 'Body is not valid JSON', { details: null })
  }
  if (Array.isArray(body)) {
    const unstorable = findUnstorableText(body)
    if (unstorable !== undefined) throw new AppError('ValidationFailed', 'Body contains text that cannot be stored', { details: { path: unstorable } })
    return body
  }
  if (body === null || typeof body !== 'object') throw new AppError('ValidationFailed', 'Body must be a JSON array or object', { details: null })
  return body as Record<string, unknown>
}

function refusalText(err: AppError): string {
  if (err.code === 'Forbidden') return 'ключ закладки не подходит к этой оценке. Возьмите новую закладку в мастере Housler.'
  if (err.code === 'UrlRejected') return 'это не страница поддерживаемого сайта объявлений.'
  return 'страница не похожа на объявление. Откройте объявление и нажмите закладку ещё раз.'
}

function receivedPage(message: string) {
  return html`<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Housler</title></head>
<body><h1>Готово</h1><p id="intake-result">${message}</p><p>Эту вкладку можно закрыть.</p></body></html>`
}
