import { inflateSync } from 'node:zlib'
import { isDeepStrictEqual } from 'node:util'
import type { RqBackend } from './backend.ts'
import { ALL_QUEUE, parseKey, REGISTRIES, type Names, type RegistryName } from './keyspace.ts'
import { loadPickle, PickleRefused, type PlainValue } from './pickle.ts'
import { RespError, type Reply } from './resp.ts'
import type { JobView, PendingRemovals, PendingSchedules, View } from './view.ts'

/** What one write command asks of the key layout, before it is turned into queue operations. */
export type Effect =
  | { op: 'hset'; id: string; fields: Map<string, Buffer> }
  | { op: 'push'; queue: string; ids: string[] }
  | { op: 'remove'; key: string; ids: string[] }
  | { op: 'zadd'; key: string; ids: string[]; scores: number[] }
  | { op: 'zremrange'; key: string; min: number; max: number }
  | { op: 'sadd'; key: string; members: string[] }
  | { op: 'srem'; key: string; members: string[] }
  | { op: 'del'; keys: string[] }
  | { op: 'empty'; queue: string }

/** One queue operation a batch of writes resolved to. */
type Operation = { run(): Promise<number | void> }

export type Plan = { operations: Operation[]; changes: boolean; replies(): Promise<Reply[]> }

const UNEXPRESSIBLE =
  "the job's state lives in Postgres and changes only through queue operations: enqueue, job.cancel(), requeue, job.delete(), queue.empty()"

const refuse = (message: string) => new RespError(`ERR ${message}`)

/** Fields RQ's own job.save() writes back; accepted when they say what we present (or reset, on a requeue). */
const RESET_ON_REQUEUE = new Set(['started_at', 'ended_at', 'last_heartbeat', 'worker_name', 'exc_info', 'enqueued_at', 'result'])

function inflateOrRaw(bytes: Buffer): Buffer {
  try {
    return inflateSync(bytes)
  } catch {
    return bytes
  }
}

function samePickle(a: Buffer | string, b: Buffer): boolean {
  try {
    return isDeepStrictEqual(loadPickle(Buffer.from(a)), loadPickle(b))
  } catch {
    return false
  }
}

function fieldUnchanged(field: string, presented: Buffer | string | undefined, written: Buffer, requeue: boolean): boolean {
  if (presented !== undefined && Buffer.from(presented).equals(written)) return true
  if (presented === undefined && written.length === 0) return true
  if (requeue && RESET_ON_REQUEUE.has(field)) return true
  if (presented === undefined) return false
  if (field === 'data') return inflateOrRaw(Buffer.from(presented)).equals(inflateOrRaw(written)) || samePickle(inflateOrRaw(Buffer.from(presented)), inflateOrRaw(written))
  if (field === 'exc_info') return inflateOrRaw(Buffer.from(presented)).equals(inflateOrRaw(written))
  if (field === 'meta' || field === 'result') return samePickle(presented, written)
  return false
}

/** True when the job is a member of that list or registry now (pending removals excluded). */
function placedIn(view: View, job: JobView, key: string, pending: PendingRemovals): boolean {
  if (pending.hides(job.row.id, key)) return false
  const parsed = parseKey(key)
  const queue = parsed.type === 'queue' || parsed.type === 'registry' ? parsed.queue : undefined
  if (queue === undefined) return false
  const kind = view.kindOfQueue(queue)
  if (kind === null || (kind !== undefined && kind !== job.row.kind)) return false
  if (parsed.type === 'queue') return job.row.status === 'queued'
  return parsed.type === 'registry' && REGISTRIES[parsed.registry] === job.row.status
}

type JobWrites = { fields: Map<string, Buffer>; pushes: string[]; removals: string[]; zadds: Array<{ key: string; score: number }>; deleted: boolean }

function decodeCall(names: Names, data: Buffer): { kind: string; kwargs: Record<string, PlainValue> } {
  let call: PlainValue
  try {
    call = loadPickle(inflateOrRaw(data))
  } catch (e) {
    throw refuse(`job data refused: ${e instanceof PickleRefused ? e.message : 'unreadable'}`)
  }
  if (!Array.isArray(call) || call.length !== 4) throw refuse('job data is not RQ\'s (func_name, instance, args, kwargs)')
  const [functionName, instance, args, kwargs] = call
  const kind = typeof functionName === 'string' ? names.kindOf(functionName) : undefined
  if (!kind) throw refuse(`unknown function ${pyString(functionName)}: this service runs housler.parse, housler.find_similar and housler.report (and the configured RQ_COMPAT_FUNCTION_ALIASES)`)
  if (instance !== null) throw refuse('methods of instances cannot be enqueued: enqueue a function name')
  if (!Array.isArray(args) || args.length > 0) throw refuse('positional arguments are not accepted: pass keyword arguments, e.g. url=..., session_id=...')
  if (!kwargs || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw refuse('job kwargs must be a dict')
  return { kind, kwargs }
}

const pyString = (value: unknown) => (typeof value === 'string' ? `'${value.slice(0, 100)}'` : String(value))

/**
 * Turns a batch of write commands (one command, or a MULTI…EXEC) into queue operations, RQ's call
 * patterns read as what they mean. Validation is done for the whole batch before anything runs:
 * a write the model cannot express refuses the batch and changes nothing.
 */
type PlanDeps = { backend: RqBackend; names: Names; view: View; pending: PendingRemovals; schedules: PendingSchedules }

export async function planWrites(deps: PlanDeps, effects: Effect[]): Promise<Plan> {
  const { backend, names, view, pending } = deps
  const operations: Operation[] = []
  const byJob = new Map<string, JobWrites>()
  const jobWrites = (id: string) => {
    let entry = byJob.get(id)
    if (!entry) byJob.set(id, (entry = { fields: new Map(), pushes: [], removals: [], zadds: [], deleted: false }))
    return entry
  }
  const replyOf: Array<() => Promise<Reply>> = []
  const jobs = new Map<string, JobView | undefined>()
  const jobOf = async (id: string) => {
    if (!jobs.has(id)) jobs.set(id, await view.job(id))
    return jobs.get(id)
  }
  const memberCount = async (key: string, ids: string[]) => {
    let n = 0
    for (const id of ids) {
      const job = await jobOf(id)
      if (job && placedIn(view, job, key, pending)) n++
    }
    return n
  }

  for (const effect of effects) {
    switch (effect.op) {
      case 'hset': {
        const entry = jobWrites(effect.id)
        for (const [field, value] of effect.fields) entry.fields.set(field, value)
        const existed = Boolean(await jobOf(effect.id))
        replyOf.push(async () => (existed ? 0 : effect.fields.size))
        break
      }
      case 'push': {
        if (view.kindOfQueue(effect.queue) === null) throw refuse(`unknown queue "${effect.queue}": the queues are ${view.queueNames().join(', ')}`)
        for (const id of effect.ids) jobWrites(id).pushes.push(effect.queue)
        replyOf.push(async () => (await view.queuedIds(effect.queue)).length)
        break
      }
      case 'remove': {
        const key = parseKey(effect.key)
        if (key.type !== 'queue' && key.type !== 'registry') throw refuse(`${effect.key} is not a queue or registry; ${UNEXPRESSIBLE}`)
        const count = await memberCount(effect.key, effect.ids)
        for (const id of effect.ids) jobWrites(id).removals.push(effect.key)
        replyOf.push(async () => count)
        break
      }
      case 'zadd': {
        const key = parseKey(effect.key)
        if (key.type !== 'registry' || view.kindOfQueue(key.queue) === null) throw refuse(`ZADD into ${effect.key}: ${UNEXPRESSIBLE}`)
        const count = effect.ids.length - (await memberCount(effect.key, effect.ids))
        effect.ids.forEach((id, i) => jobWrites(id).zadds.push({ key: effect.key, score: effect.scores[i] }))
        replyOf.push(async () => count)
        break
      }
      case 'zremrange': {
        const key = parseKey(effect.key)
        const members = key.type === 'registry' ? await view.registry(key.registry, key.queue) : []
        const hit = members.filter((member) => member.score >= effect.min && member.score <= effect.max)
        // RQ's registry cleanup removes what has expired; ours have expired already, so it finds nothing.
        if (hit.length > 0) throw refuse(`ZREMRANGEBYSCORE would remove ${hit.length} live jobs from ${effect.key}; ${UNEXPRESSIBLE}`)
        replyOf.push(async () => 0)
        break
      }
      case 'sadd': {
        const key = parseKey(effect.key)
        const known = view.queueNames().map((queue) => `rq:queue:${queue}`)
        if (key.type !== 'queues' || !effect.members.every((member) => known.includes(member))) {
          throw refuse(`SADD ${effect.key} ${effect.members.join(' ').slice(0, 200)}: the queues are ${view.queueNames().join(', ')}; ${UNEXPRESSIBLE}`)
        }
        replyOf.push(async () => 0)
        break
      }
      case 'srem': {
        const current = await view.setMembers(parseKey(effect.key))
        // RQ drops keys of workers that are gone; ours are gone from the set already.
        if (effect.members.some((member) => current.includes(member))) throw refuse(`SREM from ${effect.key}: ${UNEXPRESSIBLE}`)
        replyOf.push(async () => 0)
        break
      }
      case 'del': {
        let existing = 0
        for (const name of effect.keys) {
          const key = parseKey(name)
          if (key.type === 'job') {
            if (await jobOf(key.id)) {
              existing++
              jobWrites(key.id).deleted = true
            }
          } else if ((await view.typeOf(name)) !== 'none') {
            throw refuse(`DEL ${name}: ${UNEXPRESSIBLE}`)
          }
        }
        replyOf.push(async () => existing)
        break
      }
      case 'empty': {
        const kind = view.kindOfQueue(effect.queue)
        if (kind === null) {
          replyOf.push(async () => 0)
          break
        }
        let removed = 0
        operations.push({
          async run() {
            for (const k of kind === undefined ? backend.kinds : [kind]) removed += await backend.empty(k)
          },
        })
        replyOf.push(async () => removed)
        break
      }
    }
  }

  for (const [id, writes] of byJob) {
    const job = await jobOf(id)
    operations.push(...(job ? planExisting(deps, job, writes) : planNew(deps, id, writes)))
  }
  return {
    operations,
    changes: operations.length > 0,
    async replies() {
      const out: Reply[] = []
      for (const reply of replyOf) out.push(await reply())
      return out
    },
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function planNew(deps: PlanDeps, id: string, writes: JobWrites): Operation[] {
  const scheduled = writes.zadds.map((zadd) => ({ ...zadd, key: parseKey(zadd.key) }))
  if (scheduled.some((zadd) => zadd.key.type !== 'registry' || zadd.key.registry !== 'scheduled')) {
    throw refuse(`ZADD of job ${id}, which does not exist: ${UNEXPRESSIBLE}`)
  }
  const when = scheduled.map((zadd) => ({ queue: (zadd.key as { queue: string }).queue, runAt: new Date(zadd.score * 1000) })).at(-1)
  if (writes.fields.size === 0 && writes.pushes.length === 0) {
    if (!when) return []
    // RQ 1.13's enqueue_at/enqueue_in sends this ZADD before the pipeline that writes the job: keep it for that pipeline.
    if (!UUID.test(id) || !Number.isFinite(when.runAt.getTime())) throw refuse(`ZADD of job ${id}, which does not exist: ${UNEXPRESSIBLE}`)
    return [{ run: async () => deps.schedules.add(id, when) }]
  }
  const data = writes.fields.get('data')
  if (!data) throw refuse(`rq:job:${id} does not exist; a new job needs its data (RQ's Queue.enqueue writes it)`)
  const status = writes.fields.get('status')?.toString() ?? 'queued'
  const schedule = status === 'scheduled' ? (when ?? deps.schedules.find(id)) : undefined
  if (status === 'scheduled' && !schedule) throw refuse(`job ${id} is scheduled but not in a scheduled registry: enqueue with queue.enqueue_at()/enqueue_in()`)
  if (status !== 'queued' && status !== 'scheduled') throw refuse(`a new job must be queued or scheduled (got status "${status}"): depends_on is not accepted over the Redis protocol`)
  if (status === 'queued' && writes.pushes.length === 0) throw refuse(`job ${id} is written but not pushed onto a queue: enqueue with Queue('${ALL_QUEUE}').enqueue(...)`)
  const dependencies = writes.fields.get('dependency_ids')?.toString()
  if (dependencies && dependencies !== '[]') throw refuse('depends_on is not accepted over the Redis protocol: use POST /api/tasks/pipeline')
  if (writes.removals.length > 0 || writes.deleted) throw refuse(`job ${id} is enqueued and removed in one batch`)
  const { kind, kwargs } = decodeCall(deps.names, data)
  for (const queue of [...writes.pushes, ...(schedule ? [schedule.queue] : [])]) {
    if (deps.view.kindOfQueue(queue) === null) throw refuse(`unknown queue "${queue}": the queues are ${deps.view.queueNames().join(', ')}`)
    if (queue !== ALL_QUEUE && queue !== kind) throw refuse(`queue "${queue}" runs ${deps.names.functionOf(queue)}, not ${deps.names.functionOf(kind)}`)
  }
  if (!UUID.test(id)) {
    throw refuse(`job id "${id.slice(0, 80)}" is not a UUID: job ids here are UUIDs (RQ's default ids are), so pass no job_id or a UUID`)
  }
  const sessionId = typeof kwargs.session_id === 'string' ? kwargs.session_id : null
  return [
    {
      async run() {
        const outcome = await deps.backend.enqueue({ kind, payload: kwargs, sessionId, jobId: id, runAt: schedule?.runAt })
        deps.schedules.settle(id)
        if (outcome.reused) {
          throw refuse(`job ${outcome.jobId} already does this (same ${kind} request, still unfinished); fetch that job instead`)
        }
      },
    },
  ]
}

function planExisting(deps: PlanDeps, job: JobView, writes: JobWrites): Operation[] {
  const { backend, view, pending } = deps
  const { row, hash } = job
  const target = writes.fields.get('status')?.toString() ?? row.status
  const requeue = target === 'queued' && writes.pushes.length > 0 && (row.status === 'failed' || row.status === 'canceled')
  // registry.requeue() removes the job, then saves it with its times cleared, then enqueues it.
  const resetting = requeue || (pending.has(row.id) && target === row.status)
  for (const [field, value] of writes.fields) {
    if (field === 'status') continue
    if (!fieldUnchanged(field, hash.get(field), value, resetting)) {
      throw refuse(`HSET rq:job:${row.id} ${field}: ${UNEXPRESSIBLE}`)
    }
  }
  for (const { key } of writes.zadds) {
    const parsed = parseKey(key)
    if (parsed.type !== 'registry' || REGISTRIES[parsed.registry as RegistryName] !== target) {
      throw refuse(`ZADD ${key} ${row.id}: the job is ${row.status}; ${UNEXPRESSIBLE}`)
    }
  }
  const id = row.id
  if (writes.deleted) {
    return [{ run: () => backend.remove(id).finally(() => pending.settle(id)) }]
  }
  if (target === 'canceled' && row.status !== 'canceled') {
    return [{ run: () => backend.cancel(id).then(() => pending.settle(id)) }]
  }
  if (requeue) {
    return [{ run: () => backend.requeue(id).then(() => pending.settle(id)) }]
  }
  if (target !== row.status) throw refuse(`job ${id} is ${row.status}; setting its status to "${target}" is not an operation; ${UNEXPRESSIBLE}`)
  if (writes.pushes.length > 0) throw refuse(`job ${id} is ${row.status}; only failed or canceled jobs can be pushed back onto a queue (requeue)`)
  const removals = writes.removals.filter((key) => placedIn(view, job, key, pending))
  return removals.map((key) => ({
    async run() {
      pending.add(id, key)
    },
  }))
}
