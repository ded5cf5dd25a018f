import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { AppError, coerceError, isConnectionRefusal, isDatabaseUnreachable, type ErrorCode } from '../errors.ts'

/** The one mapping from domain errors to HTTP statuses (README, "Errors", lists it for clients). */
export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  ValidationFailed: 400,
  UrlRejected: 400,
  UnknownTaskKind: 404,
  JobNotFound: 404,
  JobExpired: 404,
  NotFound: 404,
  InvalidState: 409,
  Conflict: 409,
  Unauthorized: 401,
  Forbidden: 403,
  PayloadTooLarge: 413,
  RateLimited: 429,
  QueueUnavailable: 503,
  DatabaseBusy: 503,
  FetchFailed: 502,
  SiteBlocked: 502,
  ListingNotFound: 404,
  NotAListing: 422,
  NotEnoughAnalogs: 422,
  JobTimeout: 504,
  JobCanceled: 409,
  PermanentTaskFailure: 422,
  Internal: 500,
}

/** The code a framework-raised HTTPException (hono's own middleware) answers with. */
const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'ValidationFailed',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  413: 'PayloadTooLarge',
  429: 'RateLimited',
  503: 'QueueUnavailable',
}

/**
 * Any thrown value as the AppError its response is built from. An unknown failure becomes 'Internal',
 * carrying its message in details only when `exposeErrors` (EXPOSE_ERRORS) is on.
 */
export function toAppError(value: unknown, exposeErrors: boolean): AppError {
  if (value instanceof AppError) return value
  const error = coerceError(value)
  if (error instanceof HTTPException) {
    return new AppError(HTTP_EXCEPTION_CODES[error.status] ?? 'Internal', error.message || 'Request failed', { cause: error, details: null })
  }
  // Up but refusing sessions (53300, 57P03): nothing was stored; running a task here would only add load.
  if (isConnectionRefusal(error)) {
    return new AppError('DatabaseBusy', 'Queue database is at its connection limit; try again shortly', {
      cause: error,
      details: { reason: error.message, retry_after_seconds: RETRY_AFTER_SECONDS },
    })
  }
  if (isDatabaseUnreachable(error)) {
    return new AppError('QueueUnavailable', 'Queue database unreachable; try again shortly', { cause: error, details: { reason: error.message } })
  }
  return new AppError('Internal', 'Internal Server Error', { cause: error, details: exposeErrors ? { message: error.message } : null })
}

/** Every non-2xx JSON body: `{ error, code, details }`. */
export function errorBody(error: AppError): { error: string; code: ErrorCode; details: unknown } {
  return { error: error.message, code: error.code, details: error.details ?? null }
}

// What a client refused for a busy or unreachable database waits: about the pools' back-off to a free session.
export const RETRY_AFTER_SECONDS = 2

/** The response for an AppError; headers the caller set on `c` (WWW-Authenticate, Retry-After) are kept. */
export function errorResponse(c: Context, error: AppError): Response {
  // Busy or unreachable is temporary: tell clients when to come back.
  if (error.code === 'DatabaseBusy' || error.code === 'QueueUnavailable') {
    c.header('Retry-After', String(RETRY_AFTER_SECONDS))
  }
  return c.json(errorBody(error), HTTP_STATUS[error.code])
}
