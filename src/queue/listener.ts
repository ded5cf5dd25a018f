import pg from 'pg'
import { coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'

export type Listener = {
  /** False for the polling stand-in: nothing is ever delivered, so readers must poll. */
  readonly listening: boolean
  on(channel: string, handler: (payload: string) => void): void
  /** Called after every (re)connect: notifications sent while disconnected are lost, so re-check state. */
  onReconnect(handler: () => void): void
  /**
   * Resolves true once every notification committed before this call has reached the handlers (one
   * round trip on the LISTEN session, shared by concurrent callers); false when not connected.
   */
  sync(): Promise<boolean>
  close(): Promise<void>
}

const RECONNECT_DELAY_MAX_MS = 5000

/**
 * One LISTEN connection per process, fanned out to in-process handlers. It reconnects on its own
 * after a database restart; until then, pollers and the workers' poll timer carry on.
 */
export function createListener(options: { url: string; channels: string[]; log: Logger }): Listener {
  const handlers = new Map<string, Array<(payload: string) => void>>()
  const reconnectHandlers: Array<() => void> = []
  let client: pg.Client | undefined
  let closed = false
  let delayMs = 100
  let timer: NodeJS.Timeout | undefined

  async function connect(): Promise<void> {
    if (closed) return
    const next = new pg.Client({ connectionString: options.url, application_name: 'housler-listener' })
    next.on('error', () => {})
    next.on('end', () => {
      if (client === next) client = undefined
      scheduleReconnect()
    })
    next.on('notification', (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '')
    })
    try {
      await next.connect()
      for (const channel of options.channels) await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
      if (closed) return void (await next.end().catch(() => {}))
      client = next
      delayMs = 100
      for (const handler of reconnectHandlers) handler()
    } catch (e) {
      const err = coerceError(e)
      options.log.warn({ err: err.message }, 'listener could not connect; retrying')
      await next.end().catch(() => {})
    }
  }

  function scheduleReconnect(): void {
    if (closed || timer) return
    timer = setTimeout(() => {
      timer = undefined
      delayMs = Math.min(delayMs * 2, RECONNECT_DELAY_MAX_MS)
      void connect().then(() => {
        if (!client) scheduleReconnect()
      })
    }, delayMs)
    timer.unref()
  }

  void connect().then(() => {
    if (!client) scheduleReconnect()
  })

  // Postgres sends a listening session its pending notifications before it answers a query, and a
  // committed NOTIFY is pending by the time its writer hears COMMIT: after an empty query's answer,
  // every notification committed before the query was sent has been handled. A caller joins the
  // round trip sent after its call, never one already on the wire.
  let inFlight: Promise<boolean> | undefined
  let queued: Promise<boolean> | undefined
  function roundTrip(): Promise<boolean> {
    const session = client
    const trip: Promise<boolean> = session
      ? session.query('').then(
          () => client === session,
          () => false,
        )
      : Promise.resolve(false)
    inFlight = trip
    void trip.then(() => {
      if (inFlight === trip) inFlight = undefined
    })
    return trip
  }

  return {
    listening: true,
    sync() {
      if (!inFlight) return roundTrip()
      queued ??= inFlight.then(() => {
        queued = undefined
        return roundTrip()
      })
      return queued
    },
    on(channel, handler) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler])
    },
    onReconnect(handler) {
      reconnectHandlers.push(handler)
    },
    async close() {
      closed = true
      if (timer) clearTimeout(timer)
      await client?.end().catch(() => {})
    },
  }
}

/**
 * The stand-in when no session can LISTEN (DATABASE_URL through a transaction pooler, no
 * DATABASE_LISTEN_URL): it delivers nothing, and workers and push streams poll instead.
 */
export function createPollingListener(): Listener {
  return { listening: false, on() {}, onReconnect() {}, sync: async () => false, async close() {} }
}

/** Channel names: the service's NOTIFY contract between API and worker processes. */
export const CHANNELS = {
  /** payload: task kind. A job became runnable. */
  jobs: 'housler_jobs',
  /** payload: job id. A job was canceled; its worker aborts the handler. */
  cancel: 'housler_cancel',
  /** payload: job id. A job's status or progress changed (for push subscribers). */
  status: 'housler_status',
} as const
