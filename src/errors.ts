/** Every failure the service knows by name. HTTP statuses are chosen in http/errors.ts, never here. */
export const ERROR_CODES = [
  'ValidationFailed',
  'UrlRejected',
  'UnknownTaskKind',
  'JobNotFound',
  'JobExpired',
  'NotFound',
  'InvalidState',
  'Conflict',
  'Unauthorized',
  'Forbidden',
  'PayloadTooLarge',
  'RateLimited',
  'QueueUnavailable',
  'DatabaseBusy',
  'FetchFailed',
  'SiteBlocked',
  'ListingNotFound',
  'NotAListing',
  'NotEnoughAnalogs',
  'JobTimeout',
  'JobCanceled',
  'PermanentTaskFailure',
  'Internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export class AppError extends Error {
  readonly code: ErrorCode
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.details = options.details
  }
}

/** Turns any thrown value into an Error, so every catch block can read .message and .stack. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value
  if (typeof value === 'string') return new Error(value)
  try {
    return new Error(JSON.stringify(value))
  } catch {
    return new Error(String(value))
  }
}

/** Failures that a retry cannot fix: the adapter fails these jobs at once, without another attempt. */
const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set([
  'PermanentTaskFailure',
  'ListingNotFound',
  'NotAListing',
  'NotEnoughAnalogs',
  'UrlRejected',
  'ValidationFailed',
  'JobCanceled',
])

export function isPermanentFailure(error: Error): boolean {
  return error instanceof AppError && PERMANENT_CODES.has(error.code)
}

/**
 * SQLSTATE classes and Node errno codes that mean "the database cannot be reached right now".
 * They decide the synchronous fallback and the 503 answers; any other database error is a bug.
 */
const UNREACHABLE_SQLSTATE_PREFIXES = [
  '08', // connection_exception: the connection was refused, lost or never established
  '57P', // operator_intervention: admin_shutdown, crash_shutdown, cannot_connect_now (server starting or stopping)
  '53300', // too_many_connections
]
/** SQLSTATEs of a server that is up but takes no more sessions now: wait and retry, it is not down. */
export const REFUSAL_SQLSTATES: Readonly<Record<string, string>> = {
  '53300': 'too_many_connections', // max_connections, or a role's or database's CONNECTION LIMIT, reached
  '57P03': 'cannot_connect_now', // starting up, shutting down or in recovery
}

/** A connect the server refused for now (REFUSAL_SQLSTATES): nothing ran, so a retry is always safe. */
export function isConnectionRefusal(value: unknown): boolean {
  const code = (value as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code in REFUSAL_SQLSTATES) return true
  if (value instanceof AppError && value.code === 'DatabaseBusy') return true
  const cause = (value as { cause?: unknown } | null)?.cause
  return cause !== undefined && cause !== value && isConnectionRefusal(cause)
}

const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'])
const UNREACHABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /^timeout expired$/, // pg.Client's own connectionTimeoutMillis (a bare client: the LISTEN session, the pooler probe)
  /Client has encountered a connection error/i,
  /Connection terminated unexpectedly/i,
  /the database system is (starting up|shutting down)/i,
  /pool.*(ended|closed)/i,
]

export function isDatabaseUnreachable(value: unknown): boolean {
  const error = coerceError(value) as Error & { code?: string; errors?: unknown[] }
  if (error instanceof AppError) return error.code === 'QueueUnavailable'
  const code = error.code
  if (typeof code === 'string') {
    if (UNREACHABLE_ERRNO.has(code)) return true
    if (UNREACHABLE_SQLSTATE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true
  }
  if (Array.isArray(error.errors) && error.errors.some(isDatabaseUnreachable)) return true
  if (UNREACHABLE_MESSAGES.some((pattern) => pattern.test(error.message))) return true
  return error.cause !== undefined && error.cause !== value && isDatabaseUnreachable(error.cause)
}

/** A start-up failure the user can fix: its message is the one line printed, naming the cause and the fix. */
export class StartupError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'StartupError'
  }
}
