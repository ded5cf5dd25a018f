import pg from 'pg'
import { AppError, isConnectionRefusal as isRefusal } from '../errors.ts'

/** A pool waits this long for a busy connection before it opens another: short overlaps share one. */
const GROW_AFTER_MS = 20
const REFUSED_BACKOFF_MIN_MS = 100
const REFUSED_BACKOFF_MAX_MS = 5000
// Refusals this far apart are separate episodes (each logged once).
const EPISODE_GAP_MS = 60_000

export type RefusalEvents = {
  /** The first refusal of an episode (the pool had been connecting fine until now). */
  onRefused(error: Error): void
  /** A new connection opened after refusals; `refusals` counts the episode's. */
  onRecovered(refusals: number): void
}

export type ElasticPoolOptions = pg.PoolConfig & {
  /** The most connections this pool may hold. It holds one while lightly used and grows only under load. */
  max: number
  /** With no connection at all, how long a checkout keeps retrying refused connects before it fails. */
  refusedRetryMs: number
  events?: Partial<RefusalEvents>
}

type Callback = (err: Error | undefined, client: pg.PoolClient | undefined, release: (err?: Error | boolean) => void) => void

/**
 * A pg.Pool that holds as few connections as its load needs. node-postgres opens a new connection
 * whenever every open one is busy, so two timers firing together would keep two sessions open on an
 * idle process; here a checkout waits for a busy connection first and a new one is opened only when
 * checkouts have been waiting for GROW_AFTER_MS. Idle connections close after idleTimeoutMillis and
 * the width shrinks with them. A refused connect (53300, 57P03) is never an error while another
 * connection is open: the width drops to what is open and the checkout waits its turn; with none open
 * it retries with back-off for refusedRetryMs. Width is node-postgres's `options.max`, which it reads
 * at every checkout.
 */
export class ElasticPool extends pg.Pool {
  readonly ceiling: number
  readonly #refusedRetryMs: number
  readonly #events: Partial<RefusalEvents>
  #waitingSince: number | undefined
  #demandWaiting = 0
  #refusals = 0
  #lastRefusalAt = 0
  #refusedTotal = 0
  #noGrowthUntil = 0
  #backoffMs = REFUSED_BACKOFF_MIN_MS

  constructor(options: ElasticPoolOptions) {
    const { refusedRetryMs, events, ...config } = options
    // min 1: once connected, a process keeps one session, so a full server cannot starve it of all.
    super({ ...config, max: 1, min: 1 })
    this.ceiling = Math.max(1, options.max)
    this.#refusedRetryMs = refusedRetryMs
    this.#events = events ?? {}
    this.on('connect', () => {
      if (this.#refusals > 0) this.#recovered()
    })
    this.on('remove', () => {
      this.options.max = Math.max(1, Math.min(this.options.max ?? 1, this.totalCount))
    })
  }

  /** Refused connects since the pool was created. */
  get refusedTotal(): number {
    return this.#refusedTotal
  }

  connect(): Promise<pg.PoolClient>
  connect(callback: Callback): void
  connect(callback?: Callback): Promise<pg.PoolClient> | void {
    if (!callback) {
      return new Promise((resolve, reject) => this.connect((err, client) => (err ? reject(err) : resolve(client!))))
    }
    // Only these checkouts (the request and job paths) count as demand; background ones never do.
    const waiting = this.#maybeGrow()
    this.#checkout((err, client, release) => {
      if (waiting && --this.#demandWaiting === 0) this.#waitingSince = undefined
      callback(err, client, release)
    }, Date.now() + this.#refusedRetryMs)
  }

  /**
   * Opens one new session and closes it: what the server answers a fresh connection (a refusal, no
   * answer at all, or a session), which a statement that failed on a pooled session cannot tell.
   */
  async probe(): Promise<void> {
    const client = new (this as unknown as { Client: typeof pg.Client }).Client(this.options)
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (e) {
      if (isRefusal(e)) this.#refused(e as Error)
      throw e
    } finally {
      await client.end().catch(() => {})
    }
  }

  /**
   * Background work (maintenance, heartbeats, cleanup) checks out through this: it waits for an open
   * connection and never makes the pool grow, so however its timers line up an idle process keeps one.
   */
  readonly background = {
    connect: (): Promise<pg.PoolClient> =>
      new Promise((resolve, reject) => this.#checkout((err, client) => (err ? reject(err) : resolve(client!)), Date.now() + this.#refusedRetryMs)),
    query: async (text: string, values?: unknown[]): Promise<pg.QueryResult> => {
      const client = await this.background.connect()
      try {
        const result = await client.query(text, values)
        client.release()
        return result
      } catch (e) {
        // As pool.query does: a connection whose statement failed is not handed out again.
        client.release(e as Error)
        throw e
      }
    },
    end: async () => {},
    // What Kysely reads of a pool besides connect(): the settings for its cancel connection.
    options: this.options as object,
    Client: (this as unknown as { Client: typeof pg.Client }).Client,
  }

  #checkout(callback: Callback, deadline: number): void {
    super.connect((err, client, release) => {
      if (!err) return callback(undefined, client, release)
      // node-postgres's words for "no connection was free in time" (a new one failing says otherwise):
      // the server is up and busy, so callers answer 503 and workers retry, as for a refusal.
      if (err.message === 'timeout exceeded when trying to connect') {
        return callback(new AppError('DatabaseBusy', 'No database connection became free in time', { cause: err }), undefined, release)
      }
      // A new session that timed out while others of this pool are open: the server is up but slow.
      const slowConnect = /connection timeout/i.test(err.message) && this.totalCount > 0
      if (!isRefusal(err) && !slowConnect) return callback(err, undefined, release)
      this.#refused(err)
      if (this.totalCount > 0) {
        this.options.max = this.totalCount
        return this.#checkout(callback, deadline)
      }
      if (Date.now() >= deadline) return callback(err, undefined, release)
      const delayMs = Math.min(this.#backoffMs * (0.5 + Math.random()), Math.max(0, deadline - Date.now()))
      // Not unref'd: a caller waits on this checkout, so the process must stay up for it (a worker starting on a full server).
      setTimeout(() => this.#checkout(callback, deadline), delayMs)
    })
  }

  /** Widens the pool when demand has been waiting GROW_AFTER_MS; true if this checkout will wait. */
  #maybeGrow(): boolean {
    // With a connection free the width is what is open: node-postgres would otherwise open another
    // for a second checkout queued in the same tick.
    if (this.idleCount > 0) this.options.max = Math.max(1, this.totalCount)
    const width = this.options.max ?? 1
    const saturated = this.idleCount === 0 && this.totalCount >= width
    if (!saturated) return false
    const now = performance.now()
    if (this.#demandWaiting > 0) {
      this.#waitingSince ??= now
      if (now - this.#waitingSince >= GROW_AFTER_MS && width < this.ceiling && Date.now() >= this.#noGrowthUntil) {
        this.options.max = width + 1
        // The clock restarts: the next widening needs demand that is still waiting after this one.
        this.#waitingSince = now
        return false
      }
    }
    if (this.#demandWaiting++ === 0) this.#waitingSince = now
    return true
  }

  #refused(err: Error): void {
    this.#refusedTotal++
    if (Date.now() - this.#lastRefusalAt > EPISODE_GAP_MS) this.#refusals = 0
    this.#lastRefusalAt = Date.now()
    if (this.#refusals++ === 0) this.#events.onRefused?.(err)
    // Back off growing too: every attempt costs the server a fork it then refuses.
    this.#noGrowthUntil = Date.now() + this.#backoffMs
    this.#backoffMs = Math.min(this.#backoffMs * 2, REFUSED_BACKOFF_MAX_MS)
  }

  #recovered(): void {
    const refusals = this.#refusals
    this.#refusals = 0
    this.#backoffMs = REFUSED_BACKOFF_MIN_MS
    this.#events.onRecovered?.(refusals)
  }
}
