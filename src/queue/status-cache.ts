import type { Listener } from './listener.ts'

/** A status body and its JSON as UTF-8 bytes, rendered and encoded once (from the cache, `body` parses the bytes on each read). */
export type RenderedStatus<Body> = { body: Body; json: Buffer<ArrayBuffer> }

// Only the bytes are kept (a parsed body weighs several times its JSON): a hit parses on demand.
type Entry = { json: Buffer<ArrayBuffer>; expiresAt: number }

function fromBytes<Body>(json: Buffer<ArrayBuffer>): RenderedStatus<Body> {
  return {
    json,
    get body() {
      return JSON.parse(json.toString('utf8')) as Body
    },
  }
}

/** Past this many bytes of cached JSON, the least recently used entries go. */
const MAX_CACHED_BYTES = 16 * 2 ** 20
const MAX_ENTRIES = 20_000

/**
 * Bodies of jobs that ended (finished, failed, canceled): they change only by a requeue or a
 * deletion (TTL cleanup, remove, empty), each of which sends a status NOTIFY that evicts the entry
 * in every process. A hit is served only after the LISTEN session confirms that every notification
 * committed before the request has arrived, so a requeue or delete that returned to its caller, in
 * any process, is never answered with the old body. Entries also go at the job's TTL deadline.
 * Without LISTEN (a transaction pooler) nothing would evict: the cache then stays off.
 */
export function createStatusCache<Body>(listener: Listener, statusChannel: string) {
  const enabled = listener.listening
  const entries = new Map<string, Entry>()
  let bytes = 0
  // Reads in flight per job: an eviction during a read makes its (possibly older) answer unstorable.
  const reads = new Map<string, Set<{ stale: boolean }>>()

  function drop(jobId: string) {
    const entry = entries.get(jobId)
    if (!entry) return
    entries.delete(jobId)
    bytes -= entry.json.length
  }

  function evict(jobId: string | null) {
    if (jobId === null) {
      entries.clear()
      bytes = 0
      for (const pending of reads.values()) for (const read of pending) read.stale = true
      return
    }
    drop(jobId)
    for (const read of reads.get(jobId) ?? []) read.stale = true
  }

  if (enabled) {
    listener.on(statusChannel, (jobId) => evict(jobId))
    // Notifications sent while the session was down are lost.
    listener.onReconnect(() => evict(null))
  }

  return {
    /** The cached rendering of an ended job, or undefined (then read the database). */
    async get(jobId: string): Promise<RenderedStatus<Body> | undefined> {
      if (!enabled || !entries.has(jobId)) return undefined
      if (!(await listener.sync())) {
        evict(null)
        return undefined
      }
      const entry = entries.get(jobId)
      if (!entry) return undefined
      if (entry.expiresAt <= Date.now()) {
        drop(jobId)
        return undefined
      }
      // Most recently used last: eviction by size takes from the front.
      entries.delete(jobId)
      entries.set(jobId, entry)
      return fromBytes<Body>(entry.json)
    },

    /**
     * Call before reading a job from the primary; `done` (always called, with the reading when it may be
     * kept) stores it unless an eviction of the job arrived in between. `expiresAt` (ms): when the TTL
     * cleanup may delete the job.
     */
    begin(jobId: string): { done(keep?: { rendered: RenderedStatus<Body>; expiresAt: number }): void } {
      const read = { stale: false }
      if (enabled) reads.set(jobId, (reads.get(jobId) ?? new Set()).add(read))
      return {
        done(keep) {
          const pending = reads.get(jobId)
          pending?.delete(read)
          if (pending?.size === 0) reads.delete(jobId)
          if (!enabled || !keep || read.stale || keep.expiresAt <= Date.now()) return
          drop(jobId)
          entries.set(jobId, { json: keep.rendered.json, expiresAt: keep.expiresAt })
          bytes += keep.rendered.json.length
          for (const oldest of entries.keys()) {
            if (bytes <= MAX_CACHED_BYTES && entries.size <= MAX_ENTRIES) break
            drop(oldest)
          }
        },
      }
    },

    /** Entries held and their JSON's bytes (tests check the bound). */
    size: () => ({ entries: entries.size, bytes }),
  }
}
