import { coerceError, isConnectionRefusal, isDatabaseUnreachable } from '../errors.ts'
import type { Logger } from '../log.ts'

const DELAY_MIN_MS = 250
const DELAY_MAX_MS = 10_000

/**
 * Runs `attempt` until it succeeds, waiting with capped exponential back-off (and jitter) while the
 * database is unreachable or refuses sessions: forty processes starting against a full or restarting
 * server wait their turn instead of exiting. Other errors (bad credentials, a failed migration) throw.
 */
export async function withConnectRetry<T>(what: string, attempt: () => Promise<T>, log: Logger): Promise<T> {
  let delayMs = DELAY_MIN_MS
  let failures = 0
  for (;;) {
    try {
      const value = await attempt()
      if (failures > 0) log.info({ attempts: failures + 1 }, `${what}: connected`)
      return value
    } catch (e) {
      const err = coerceError(e)
      if (!isConnectionRefusal(err) && !isDatabaseUnreachable(err)) throw err
      if (failures++ === 0) log.warn({ err: err.message, code: (err as { code?: string }).code }, `${what}: database not available; retrying with back-off`)
      await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random())))
      delayMs = Math.min(delayMs * 2, DELAY_MAX_MS)
    }
  }
}

/**
 * Runs a write that must not be lost (a job's completion or failure) again while the database
 * refuses sessions or cannot be reached, for up to `forMs`: an outcome is recorded late rather than
 * turned into a failure of the job. Safe to repeat: those writes are fenced by the job's attempt.
 */
export async function retryWhileUnavailable<T>(write: () => Promise<T>, forMs = 60_000): Promise<T> {
  const deadline = Date.now() + forMs
  let delayMs = DELAY_MIN_MS
  for (;;) {
    try {
      return await write()
    } catch (e) {
      const unavailable = isConnectionRefusal(e) || isDatabaseUnreachable(e)
      if (!unavailable || Date.now() + delayMs > deadline) throw e
      await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random())))
      delayMs = Math.min(delayMs * 2, DELAY_MAX_MS)
    }
  }
}
