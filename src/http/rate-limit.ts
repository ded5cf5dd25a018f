import { createHash } from 'node:crypto'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, MiddlewareHandler } from 'hono'
import { AppError } from '../errors.ts'
import { presentedCredentials } from './auth.ts'

const digest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32)

/** Who is asking: the API key (hashed; keys never sit in memory maps or tables), else the peer address. */
export function clientIdentity(c: Context): { id: string; apiKey: boolean } {
  const key = presentedCredentials(c).key
  if (key) return { id: `key:${digest(key)}`, apiKey: true }
  let address = 'unknown'
  try {
    address = getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    // Not served by @hono/node-server (app.fetch in-process): every caller shares one bucket.
  }
  return { id: `ip:${address}`, apiKey: false }
}

type Bucket = { tokens: number; updatedMs: number }
const MAX_BUCKETS = 100_000

/**
 * A token bucket per client: `perMinute` requests of burst, refilled continuously at perMinute/60 a
 * second. State lives in this process's memory — no database round trip on the enqueue hot path, and
 * a restart forgets it; with N API replicas a client gets N × the allowance, so set the limit per
 * replica. perMinute 0 turns it off.
 */
export function createRateLimiter(options: { perMinute: number; now?: () => number }) {
  const now = options.now ?? Date.now
  const buckets = new Map<string, Bucket>()
  const capacity = options.perMinute
  const perMs = options.perMinute / 60_000

  function take(client: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const t = now()
    const bucket = buckets.get(client) ?? { tokens: capacity, updatedMs: t }
    bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.updatedMs) * perMs)
    bucket.updatedMs = t
    if (buckets.size >= MAX_BUCKETS && !buckets.has(client)) prune(t)
    buckets.set(client, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) }
  }

  // A bucket that has refilled is the same as no bucket; dropping those bounds memory under many clients.
  function prune(t: number) {
    for (const [client, bucket] of buckets) {
      if (bucket.tokens + (t - bucket.updatedMs) * perMs >= capacity) buckets.delete(client)
    }
  }

  const middleware: MiddlewareHandler = async (c, next) => {
    if (capacity <= 0) return next()
    const verdict = take(clientIdentity(c).id)
    if (!verdict.allowed) {
      const { retryAfterSeconds } = verdict
      c.header('Retry-After', String(retryAfterSeconds))
      throw new AppError('RateLimited', `Rate limit of ${capacity} enqueues per minute exceeded; retry in ${retryAfterSeconds} s`, {
        details: { limit_per_minute: capacity, retry_after_seconds: retryAfterSeconds },
      })
    }
    return next()
  }
  return { take, middleware }
}

export type RateLimiter = ReturnType<typeof createRateLimiter>
