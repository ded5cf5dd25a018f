import type { JobRow, WorkerRow } from '../queue/index.ts'
import type { RqBackend } from './backend.ts'
import { ALL_QUEUE, jobHash, MAX_JOBS_LISTED, parseKey, queueNames, REGISTRIES, registryScore, workerHash, type Hash, type Key, type Names, type RegistryName } from './keyspace.ts'

export type ZMember = { id: string; score: number }
export type KeyType = 'hash' | 'list' | 'set' | 'zset' | 'none'

/**
 * Removals RQ sends on their own before it says what they were for: `ZREM rq:failed:<q> <id>` opens
 * both `registry.requeue(id)` and `job.delete()`. The job is hidden from that list or registry until
 * the next command says which (a requeue or DEL of its hash); if none comes within `graceMs`, the
 * removal stands and the job is deleted, the nearest our model has to a job in no registry.
 */
export function createPendingRemovals(options: { graceMs: number; expire(jobId: string): void }) {
  const pending = new Map<string, { key: string; timer: NodeJS.Timeout }>()
  return {
    add(jobId: string, key: string) {
      const previous = pending.get(jobId)
      if (previous) clearTimeout(previous.timer)
      const timer = setTimeout(() => {
        pending.delete(jobId)
        options.expire(jobId)
      }, options.graceMs)
      timer.unref()
      pending.set(jobId, { key, timer })
    },
    has: (jobId: string) => pending.has(jobId),
    hides: (jobId: string, key: string) => pending.get(jobId)?.key === key,
    settle(jobId: string) {
      const entry = pending.get(jobId)
      if (entry) clearTimeout(entry.timer)
      pending.delete(jobId)
    },
    clear() {
      for (const entry of pending.values()) clearTimeout(entry.timer)
      pending.clear()
    },
  }
}
export type PendingRemovals = ReturnType<typeof createPendingRemovals>

/** RQ 1.13's enqueue_at sends `ZADD rq:scheduled:<q> <time> <id>` before the job exists; its run time waits here for the job. */
export function createPendingSchedules(options: { graceMs: number }) {
  const pending = new Map<string, { queue: string; runAt: Date; timer: NodeJS.Timeout }>()
  const settle = (jobId: string) => {
    const entry = pending.get(jobId)
    if (entry) clearTimeout(entry.timer)
    pending.delete(jobId)
  }
  return {
    add(jobId: string, when: { queue: string; runAt: Date }) {
      settle(jobId)
      // Bounded like the connection count: a flood of lone ZADDs cannot grow this without end.
      if (pending.size >= 10_000) return
      const timer = setTimeout(() => pending.delete(jobId), options.graceMs)
      timer.unref()
      pending.set(jobId, { ...when, timer })
    },
    find: (jobId: string) => pending.get(jobId),
    settle,
    clear() {
      for (const entry of pending.values()) clearTimeout(entry.timer)
      pending.clear()
    },
  }
}
export type PendingSchedules = ReturnType<typeof createPendingSchedules>

export type JobView = { row: JobRow; hash: Hash }

/** Reads of RQ's key layout, each answered from the queue's views at the moment it is asked. */
export function createView(backend: RqBackend, names: Names, pending: PendingRemovals) {
  /** undefined: every kind (housler-tasks); null: not one of our queues. */
  function kindOfQueue(queue: string): string | undefined | null {
    if (queue === ALL_QUEUE) return undefined
    return backend.kinds.includes(queue) ? queue : null
  }

  async function liveWorkers(): Promise<WorkerRow[]> {
    return (await backend.workers()).filter((worker) => worker.state !== 'dead')
  }

  const view = {
    kindOfQueue,
    queueNames: () => queueNames(backend.kinds),

    async queuedIds(queue: string): Promise<string[]> {
      const kind = kindOfQueue(queue)
      if (kind === null) return []
      const key = `rq:queue:${queue}`
      const rows = await backend.jobIndex({ status: 'queued', kind, limit: MAX_JOBS_LISTED })
      return rows.filter((row) => !pending.hides(row.id, key)).map((row) => row.id)
    },

    /** A registry's members by score, as ZRANGE sees them; finished/failed jobs past their TTL are gone already. */
    async registry(registry: RegistryName, queue: string): Promise<ZMember[]> {
      const kind = kindOfQueue(queue)
      if (kind === null) return []
      const key = `rq:${registry}:${queue}`
      const now = Math.floor(Date.now() / 1000)
      const rows = await backend.jobIndex({ status: REGISTRIES[registry], kind, limit: MAX_JOBS_LISTED })
      const expiring = registry === 'finished' || registry === 'failed'
      return rows
        .filter((row) => !pending.hides(row.id, key))
        .map((row) => ({ id: row.id, score: registryScore(backend, row, now) }))
        .filter((member) => !expiring || member.score > now)
        .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    },

    async job(id: string): Promise<JobView | undefined> {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined
      const row = await backend.findJob(id.toLowerCase())
      if (!row || row.status === 'expired') return undefined
      const worker = row.status === 'started' ? (await liveWorkers()).find((w) => w.current_jobs.includes(row.id)) : undefined
      return { row, hash: jobHash(backend, names, row, worker?.id) }
    },

    async workers(queue?: string): Promise<WorkerRow[]> {
      const workers = await liveWorkers()
      if (queue === undefined || queue === ALL_QUEUE) return workers
      return workers.filter((worker) => worker.kinds.includes(queue))
    },

    async worker(name: string): Promise<Hash | undefined> {
      const worker = (await liveWorkers()).find((w) => w.id === name)
      return worker ? workerHash(worker) : undefined
    },

    /** Every key that exists now; Redis drops empty lists, sets and sorted sets, so do we. */
    async allKeys(): Promise<string[]> {
      const keys = ['rq:queues']
      const rows = await backend.jobIndex({ limit: MAX_JOBS_LISTED })
      const workers = await liveWorkers()
      if (workers.length > 0) keys.push('rq:workers')
      for (const queue of view.queueNames()) {
        const kind = kindOfQueue(queue)
        if (kind === null) continue
        const inQueue = rows.filter((row) => kind === undefined || row.kind === kind)
        if (inQueue.some((row) => row.status === 'queued')) keys.push(`rq:queue:${queue}`)
        for (const [registry, status] of Object.entries(REGISTRIES)) {
          if (inQueue.some((row) => row.status === status)) keys.push(`rq:${registry}:${queue}`)
        }
        if (workers.some((worker) => kind === undefined || worker.kinds.includes(kind))) keys.push(`rq:workers:${queue}`)
      }
      for (const worker of workers) keys.push(`rq:worker:${worker.id}`)
      for (const row of rows) {
        keys.push(`rq:job:${row.id}`)
        if (row.status === 'deferred') keys.push(`rq:job:${row.id}:dependencies`)
      }
      return keys
    },

    async setMembers(key: Key): Promise<string[]> {
      if (key.type === 'queues') return view.queueNames().map((queue) => `rq:queue:${queue}`)
      if (key.type === 'workers') {
        if (key.queue !== undefined && kindOfQueue(key.queue) === null) return []
        return (await view.workers(key.queue)).map((worker) => `rq:worker:${worker.id}`)
      }
      if (key.type === 'job-dependencies') return (await view.job(key.id))?.row.depends_on ?? []
      return []
    },

    async hash(key: Key): Promise<Hash | undefined> {
      if (key.type === 'job') return (await view.job(key.id))?.hash
      if (key.type === 'worker') return view.worker(key.name)
      return undefined
    },

    async typeOf(name: string): Promise<KeyType> {
      const key = parseKey(name)
      switch (key.type) {
        case 'queues':
          return 'set'
        case 'workers':
        case 'job-dependencies':
          return (await view.setMembers(key)).length > 0 ? 'set' : 'none'
        case 'queue':
          return (await view.queuedIds(key.queue)).length > 0 ? 'list' : 'none'
        case 'registry':
          return (await view.registry(key.registry, key.queue)).length > 0 ? 'zset' : 'none'
        case 'job':
        case 'worker':
          return (await view.hash(key)) ? 'hash' : 'none'
        default:
          return 'none'
      }
    },
  }
  return view
}

export type View = ReturnType<typeof createView>
