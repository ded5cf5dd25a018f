/**
 * Group commit for single enqueues. A pg-boss `send` costs ≈0.7 ms of database CPU plus a commit,
 * so requests made in the same synchronous run of code, or while a group is being written, share one
 * transaction (one multi-row insert per table, one commit). An idle batcher writes as soon as the
 * current code yields (a microtask) rather than waiting for company: under load the groups form on
 * their own while a write is in flight, and a lone request (the idle worker's pickup path) pays no
 * window, not even the rest of the event-loop turn. Each request
 * keeps its own job id; callers validate before joining, so a bad payload fails alone. If the group's
 * transaction fails, every request in it gets that error and none of its rows exist (the transaction
 * is all or nothing).
 */
export function createGroupCommit<Request, Result>(options: {
  /** Writes one group in one transaction; returns one result per request, in order. */
  write(requests: Request[]): Promise<Result[]>
  /**
   * How long an idle batcher waits for company before writing: 'yield' (default) until the current
   * code yields, 'turn' until the end of this event-loop turn, or a number of milliseconds.
   */
  window?: 'yield' | 'turn' | number
  maxBatch?: number
}) {
  const window = options.window ?? 'yield'
  const maxBatch = options.maxBatch ?? 500
  type Entry = { request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }
  let waiting: Entry[] = []
  let writing = false
  let scheduled = false
  const stats = { groups: 0, requests: 0 }

  async function flush(): Promise<void> {
    scheduled = false
    if (writing || waiting.length === 0) return
    writing = true
    const group = waiting.slice(0, maxBatch)
    waiting = waiting.slice(group.length)
    stats.groups++
    stats.requests += group.length
    try {
      const results = await options.write(group.map((entry) => entry.request))
      group.forEach((entry, i) => entry.resolve(results[i]))
    } catch (e) {
      for (const entry of group) entry.reject(e)
    } finally {
      writing = false
      // Whoever queued up during the write goes next, at once: they have waited one transaction already.
      if (waiting.length > 0) void flush()
    }
  }

  return {
    add(request: Request): Promise<Result> {
      const done = new Promise<Result>((resolve, reject) => waiting.push({ request, resolve, reject }))
      if (!writing && !scheduled) {
        scheduled = true
        if (window === 'yield') queueMicrotask(() => void flush())
        else if (window === 'turn') setImmediate(() => void flush())
        else setTimeout(() => void flush(), window)
      }
      return done
    },
    /** Groups written and requests in them so far (tests prove the grouping with it). */
    stats: () => ({ ...stats }),
  }
}
