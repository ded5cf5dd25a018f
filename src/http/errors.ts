import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ErrorCode } from '../errors.ts'

/** The one mapping from domain errors to HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  ValidationFailed: 400,
  UrlRejected: 400,
  JobNotFound: 404,
  JobExpired: 404,
  InvalidState: 409,
  Conflict: 409,
  Unauthorized: 401,
  Forbidden: 403,
  RateLimited: 429,
  QueueUnavailable: 503,
  DatabaseBusy: 503,
  FetchFailed: 502,
  SiteBlocked: 502,
  ListingNotFound: 404,
  NotAListing: 422,
  JobTimeout: 504,
  JobCanceled: 409,
  PermanentTaskFailure: 422,
  Internal: 500,
}
