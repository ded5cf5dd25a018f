import { AppError, coerceError } from '../errors.ts'
import { abortReason } from './http-exchange.ts'

export type RetryPolicy = {
  /** Extra tries after the first. */
  retries: number
  /** First back-off; doubled each retry and jittered. */
  baseDelayMs: number
  maxDelayMs: number
  /** A longer Retry-After is left to the job's own retry, which waits minutes rather than blocking a worker. */
  retryAfterCapMs: number
  signal?: AbortSignal
}

/** Failures worth another try: FetchFailed marked retryable (429, 5xx, network errors, timeouts). */
export function isRetryable(error: Error): boolean {
  return error instanceof AppError && error.code === 'FetchFailed' && detailsOf(error).retryable === true
}

function detailsOf(error: AppError): Record<string, unknown> {
  return typeof error.details === 'object' && error.details !== null ? (error.details as Record<string, unknown>) : {}
}

/** Retry-After in ms (delta-seconds or an HTTP date, never negative), or undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // HTTP dates always name a day or month; Date.parse alone would read "-5" as a year.
  const dateMs = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs)
}

/**
 * Exponential back-off with equal jitter: half of the doubled delay is fixed, half random, so many workers
 * retrying one struggling site spread out instead of arriving together.
 */
export function backoffDelayMs(retry: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry)
  return ceiling / 2 + (Math.random() * ceiling) / 2
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortReason(signal!))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Runs attempt() until it succeeds, fails for good, runs out of retries or the signal aborts. */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt()
    } catch (e) {
      const err = coerceError(e)
      if (policy.signal?.aborted) throw abortReason(policy.signal)
      if (retry >= policy.retries || !isRetryable(err)) throw err
      const retryAfterMs = detailsOf(err as AppError).retryAfterMs
      const serverDelayMs = typeof retryAfterMs === 'number' ? retryAfterMs : 0
      if (serverDelayMs > policy.retryAfterCapMs) throw err
      await sleep(Math.max(serverDelayMs, backoffDelayMs(retry, policy)), policy.signal)
    }
  }
}
