import type { Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import { coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { TERMINAL_STATUSES, type Queue } from '../queue/index.ts'
import { JobIdSchema } from './contract.ts'
import { parseWith } from './validate.ts'

export const HEARTBEAT_MS = 15_000

type Body = Record<string, unknown> & { status: string }
type Subscriber = (body: Body) => void
type Watch = { subscribers: Set<Subscriber>; latest?: Body; reading?: Promise<Body>; dirty: boolean }

/**
 * Push status for every SSE client of this process from ONE LISTEN connection: a housler_status
 * notification for a watched job triggers one status read for that job, however many clients watch
 * it (reads never overlap per job: a notification during a read marks it dirty and one more read
 * follows). A new client of an already-watched job gets the cached latest body: no read at all.
 */
export function createStatusHub(options: {
  read(jobId: string, from?: { primary?: boolean }): Promise<Body>
  onStatusChange: Queue['onStatusChange']
  log: Logger
  /** Reads may come from a lagging replica: a change it does not show yet is read from the primary. */
  replica?: boolean
}) {
  const watches = new Map<string, Watch>()
  let reads = 0

  function read(jobId: string, watch: Watch): Promise<Body> {
    if (watch.reading) {
      watch.dirty = true
      return watch.reading
    }
    reads++
    watch.dirty = false
    const previous = watch.latest
    watch.reading = options
      .read(jobId)
      // A notification means the primary changed; a replica showing the old body has not replayed it yet.
      .then((body) => (options.replica && previous && JSON.stringify(body) === JSON.stringify(previous) ? options.read(jobId, { primary: true }) : body))
      .then((body) => {
        watch.latest = body
        for (const subscriber of watch.subscribers) subscriber(body)
        return body
      })
      .finally(() => {
        watch.reading = undefined
        if (watch.dirty && watch.subscribers.size > 0) void read(jobId, watch).catch(() => {})
      })
    return watch.reading
  }

  function refresh(jobId: string) {
    const watch = watches.get(jobId)
    if (!watch || watch.subscribers.size === 0) return
    read(jobId, watch).catch((e) => options.log.warn({ err: coerceError(e).message, job_id: jobId }, 'status push read failed'))
  }

  options.onStatusChange((jobId) => {
    if (jobId !== null) return refresh(jobId)
    // Notifications sent while the listener was down are lost (or there is no LISTEN): re-read every watched job.
    for (const watched of watches.keys()) refresh(watched)
  })

  return {
    /** Current body (cached while watched, else read once) and a subscription to every later change. */
    async subscribe(jobId: string, subscriber: Subscriber): Promise<{ initial: Body; unsubscribe(): void }> {
      let watch = watches.get(jobId)
      if (!watch) {
        watch = { subscribers: new Set(), dirty: false }
        watches.set(jobId, watch)
      }
      const w = watch
      const unsubscribe = () => {
        w.subscribers.delete(subscriber)
        if (w.subscribers.size === 0 && watches.get(jobId) === w) watches.delete(jobId)
      }
      w.subscribers.add(subscriber)
      try {
        const initial = w.latest ?? (await (w.reading ?? read(jobId, w)))
        return { initial, unsubscribe }
      } catch (e) {
        unsubscribe()
        throw e
      }
    },
    /** Status reads issued so far (the database load of push status, whatever the number of clients). */
    reads: () => reads,
    watchedJobs: () => watches.size,
  }
}

export type StatusHub = ReturnType<typeof createStatusHub>

/** GET /api/tasks/status/:job_id/events: `event: status` per change, current status first, ends after a terminal one. */
export async function streamJobEvents(c: Context, hub: StatusHub): Promise<Response> {
  const jobId = parseWith(JobIdSchema, c.req.param('job_id'), 'job id')
  const queue: Body[] = []
  let wake: (() => void) | undefined
  // Subscribing before the stream opens: an unknown or expired job answers 404 JSON, not an empty stream.
  const { initial, unsubscribe } = await hub.subscribe(jobId, (body) => {
    queue.push(body)
    wake?.()
  })
  return streamSSE(c, async (stream: SSEStreamingApi) => {
    let closed = false
    stream.onAbort(() => {
      closed = true
      wake?.()
    })
    const heartbeat = setInterval(() => {
      void stream.write(': heartbeat\n\n').catch(() => {})
    }, HEARTBEAT_MS)
    let lastSent = ''
    let id = 0
    const send = async (body: Body) => {
      const data = JSON.stringify(body)
      // Coalesced reads can repeat a body; a client wants changes.
      if (data === lastSent) return false
      lastSent = data
      await stream.writeSSE({ event: 'status', data, id: String(++id) })
      return TERMINAL_STATUSES.has(body.status)
    }
    try {
      let done = await send(initial)
      while (!done && !closed) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
        while (queue.length > 0 && !done && !closed) done = await send(queue.shift()!)
      }
    } finally {
      clearInterval(heartbeat)
      unsubscribe()
    }
  })
}
