import type { Kysely } from 'kysely'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import { createFetcher, type Fetcher } from '../fetch/index.ts'
import type { Logger } from '../log.ts'
import { claimDue, markDelivered, markFailed, pruneOutbox, type OutboxRow } from './outbox.ts'
import { webhookHeaders } from './signing.ts'

const BATCH = 20
/** Longer than one POST can take (fetch timeouts are capped well below), so a lease never ends mid-send. */
const LEASE_SECONDS = 600
const PRUNE_EVERY_MS = 10 * 60 * 1000

export type WebhookDelivery = {
  /** Delivers everything due now; resolves when this pass is done. */
  tick(): Promise<void>
  /** Asks for a pass soon (a job just ended). */
  wake(): void
  stop(): Promise<void>
}

/** Exponential back-off with full jitter on the upper half: base·2^(n-1) … ×1.5, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, attempt - 1))
  return Math.round(Math.min(maxMs, exp * (1 + Math.random() * 0.5)))
}

/**
 * The delivery loop of a worker process: polls the outbox (FOR UPDATE SKIP LOCKED, so N processes
 * share it without double sends in the normal case), POSTs each event signed, and records the
 * outcome. At-least-once: a crash between the receiver's 2xx and our update sends the event again
 * with the same X-Housler-Event-Id, which receivers dedupe on.
 */
export function startWebhookDelivery(options: {
  db: Kysely<any>
  config: Config
  log: Logger
  fetcher?: Fetcher
}): WebhookDelivery {
  const { db, config, log } = options
  // Our own retries (visible in attempts, spread over hours) replace the fetcher's in-place ones.
  const fetcher = options.fetcher ?? createFetcher({ ...config, fetchRetries: 0 })
  let running: Promise<void> | undefined
  let again = false
  let stopped = false
  let lastPrune = 0
  const inflight = new AbortController()

  async function deliver(row: OutboxRow): Promise<void> {
    const secret = config.webhookSecret
    try {
      if (!secret) throw new AppError('Internal', 'WEBHOOK_SECRET is not set; webhooks cannot be signed')
      const response = await fetcher.postWebhook(row.url, row.body, webhookHeaders(secret, row.event_id, row.body), {
        signal: inflight.signal,
      })
      await markDelivered(db, row.event_id, response.status)
      log.info({ event_id: row.event_id, job_id: row.job_id, attempts: row.attempts, status: response.status }, 'webhook delivered')
    } catch (e) {
      // Interrupted by shutdown: due again at once for another process (the attempt still counts).
      if (stopped) return void (await markFailed(db, row.event_id, { status: null, error: 'delivery interrupted by shutdown', retryInMs: 0 }).catch(() => {}))
      const error = coerceError(e)
      const details = (error instanceof AppError ? error.details : undefined) as { status?: number | null } | undefined
      const status = typeof details?.status === 'number' ? details.status : null
      // A refused address will be refused again; everything else may heal within the give-up window.
      const refused = error instanceof AppError && error.code === 'UrlRejected'
      const age = Date.now() - new Date(row.created_at).getTime()
      const wait = backoffMs(row.attempts, config.webhookRetryBaseMs, config.webhookRetryMaxMs)
      const giveUp = refused || !secret || age + wait > config.webhookGiveUpSeconds * 1000
      await markFailed(db, row.event_id, { status, error: error.message.slice(0, 500), retryInMs: giveUp ? null : wait })
      log[giveUp ? 'error' : 'warn'](
        { event_id: row.event_id, job_id: row.job_id, attempts: row.attempts, status, err: error.message, will_retry: !giveUp },
        giveUp ? 'webhook given up' : 'webhook delivery failed; will retry',
      )
    }
  }

  async function pass(): Promise<void> {
    do {
      again = false
      let rows: OutboxRow[]
      do {
        rows = await claimDue(db, BATCH, LEASE_SECONDS)
        await Promise.all(rows.map(deliver))
      } while (rows.length === BATCH && !stopped)
      if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = Date.now()
        await pruneOutbox(db)
      }
    } while (again && !stopped)
  }

  function tick(): Promise<void> {
    if (stopped) return Promise.resolve()
    if (running) {
      again = true
      return running
    }
    running = pass()
      .catch((e) => log.warn({ err: coerceError(e).message }, 'webhook pass failed; retrying on the next poll'))
      .finally(() => {
        running = undefined
      })
    return running
  }

  const timer = setInterval(() => void tick(), config.webhookPollIntervalMs)
  timer.unref()
  void tick()

  return {
    tick,
    wake: () => void tick(),
    async stop() {
      stopped = true
      clearInterval(timer)
      inflight.abort(new AppError('Internal', 'shutting down'))
      await running
    },
  }
}
