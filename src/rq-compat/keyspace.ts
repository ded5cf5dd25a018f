import { deflateSync } from 'node:zlib'
import type { JobIndexRow, JobRow, WorkerRow } from '../queue/index.ts'
import type { RqBackend } from './backend.ts'
import { dumpPickle, Tuple, type PickleInput } from './pickle.ts'

/** The queue the guide names: it holds every kind; each kind also has a queue of its own name. */
export const ALL_QUEUE = 'housler-tasks'

/** RQ registry key word → our status. */
export const REGISTRIES = {
  wip: 'started',
  failed: 'failed',
  finished: 'finished',
  deferred: 'deferred',
  scheduled: 'scheduled',
  canceled: 'canceled',
} as const
export type RegistryName = keyof typeof REGISTRIES

export type Key =
  | { type: 'queues' }
  | { type: 'queue'; queue: string }
  | { type: 'job'; id: string }
  | { type: 'job-dependencies'; id: string }
  | { type: 'registry'; registry: RegistryName; queue: string }
  | { type: 'workers'; queue?: string }
  | { type: 'worker'; name: string }
  | { type: 'other'; name: string }

/** Every read the key layout needs cannot exceed this many jobs (Redis has no limit; our TTLs keep it small). */
export const MAX_JOBS_LISTED = 100_000

export function parseKey(name: string): Key {
  if (name === 'rq:queues') return { type: 'queues' }
  if (name === 'rq:workers') return { type: 'workers' }
  let match = /^rq:queue:(.+)$/.exec(name)
  if (match) return { type: 'queue', queue: match[1] }
  match = /^rq:job:([^:]+):dependencies$/.exec(name)
  if (match) return { type: 'job-dependencies', id: match[1] }
  match = /^rq:job:([^:]+)$/.exec(name)
  if (match) return { type: 'job', id: match[1] }
  match = /^rq:(wip|failed|finished|deferred|scheduled|canceled):(.+)$/.exec(name)
  if (match) return { type: 'registry', registry: match[1] as RegistryName, queue: match[2] }
  match = /^rq:workers:(.+)$/.exec(name)
  if (match) return { type: 'workers', queue: match[1] }
  match = /^rq:worker:(.+)$/.exec(name)
  if (match) return { type: 'worker', name: match[1] }
  return { type: 'other', name }
}

/** RQ's timestamp format, `%Y-%m-%dT%H:%M:%S.%fZ` (microseconds). */
export function rqTime(value: Date | string | null | undefined): string {
  if (!value) return ''
  return new Date(value).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

const seconds = (value: Date | string) => Math.floor(new Date(value).getTime() / 1000)

/** Python's repr of plain data, for RQ's description `housler.parse(url='…', session_id='…')`. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value).includes('.') || String(value).includes('e') ? String(value) : `${value}.0`
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'"
    const body = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`
  return 'None'
}

export type Names = {
  /** kind → the RQ function name presented and accepted (housler.parse, housler.find_similar, …). */
  functionOf(kind: string): string
  /** A function name (or configured alias) → kind; undefined when unknown. */
  kindOf(functionName: string): string | undefined
}

export function createNames(kinds: readonly string[], aliases: ReadonlyMap<string, string>): Names {
  const functionOf = (kind: string) => `housler.${kind.replace(/-/g, '_')}`
  const byName = new Map(kinds.map((kind) => [functionOf(kind), kind]))
  for (const [alias, kind] of aliases) if (kinds.includes(kind)) byName.set(alias, kind)
  return { functionOf, kindOf: (name) => byName.get(name) }
}

/** Registry scores as RQ writes them: expiry times for finished/failed, heartbeat expiry for wip, run time for scheduled. */
export function registryScore(backend: RqBackend, row: JobIndexRow, nowSeconds: number): number {
  switch (row.status) {
    case 'started':
      // A live worker keeps extending this in RQ; ours heartbeat, so it is always a timeout away.
      return nowSeconds + backend.timeoutSeconds(row.kind)
    case 'finished':
      return seconds(row.ended_at ?? row.created_at) + backend.resultTtlSeconds
    case 'failed':
      return seconds(row.ended_at ?? row.created_at) + backend.failureTtlSeconds
    case 'canceled':
      return seconds(row.ended_at ?? row.created_at)
    case 'scheduled':
      return seconds(row.next_attempt_at ?? row.created_at)
    default:
      return seconds(row.created_at)
  }
}

export type Hash = Map<string, Buffer | string>

/** The text RQ keeps as exc_info: our stack, led by the error message when the stack lacks it. */
function excInfo(row: JobRow): string {
  const error = row.error ?? 'Job failed'
  if (!row.stack) return error
  return row.stack.includes(error) ? row.stack : `${error}\n${row.stack}`
}

/** rq:job:<id> in RQ 1.13's fields and formats, derived from one housler.jobs row. */
export function jobHash(backend: RqBackend, names: Names, row: JobRow, workerName: string | undefined): Hash {
  const kwargs = (row.payload && typeof row.payload === 'object' ? row.payload : {}) as Record<string, PickleInput>
  const functionName = names.functionOf(row.kind)
  const hash: Hash = new Map()
  hash.set('status', row.status)
  hash.set('origin', ALL_QUEUE)
  hash.set('data', deflateSync(dumpPickle(new Tuple([functionName, null, new Tuple([]), kwargs]))))
  hash.set('description', `${functionName}(${Object.entries(kwargs).map(([k, v]) => `${k}=${pyRepr(v)}`).join(', ')})`)
  hash.set('created_at', rqTime(row.created_at))
  hash.set('enqueued_at', rqTime(row.created_at))
  hash.set('started_at', rqTime(row.started_at))
  hash.set('ended_at', rqTime(row.ended_at))
  hash.set('last_heartbeat', rqTime(row.ended_at ?? row.started_at))
  hash.set('worker_name', workerName ?? '')
  hash.set('success_callback_name', '')
  hash.set('failure_callback_name', '')
  if (row.status === 'failed') hash.set('exc_info', deflateSync(Buffer.from(excInfo(row), 'utf8')))
  if (row.status === 'finished' && row.result !== null && row.result !== undefined) hash.set('result', dumpPickle(row.result as PickleInput))
  hash.set('timeout', String(backend.timeoutSeconds(row.kind)))
  hash.set('result_ttl', String(backend.resultTtlSeconds))
  hash.set('failure_ttl', String(backend.failureTtlSeconds))
  if (row.depends_on.length > 0) {
    hash.set('dependency_id', row.depends_on[0])
    hash.set('dependency_ids', JSON.stringify(row.depends_on))
  }
  hash.set(
    'meta',
    dumpPickle({
      kind: row.kind,
      priority: row.priority,
      progress: row.progress,
      message: row.message,
      session_id: row.session_id,
      attempts: row.attempts,
      max_attempts: row.max_attempts,
      ...(row.error && row.status !== 'failed' ? { error: row.error } : {}),
    }),
  )
  return hash
}

export function queueNames(kinds: readonly string[]): string[] {
  return [ALL_QUEUE, ...kinds]
}

/** rq:worker:<name> from a housler.workers row. */
export function workerHash(worker: WorkerRow): Hash {
  const hash: Hash = new Map()
  hash.set('queues', [ALL_QUEUE, ...worker.kinds].join(','))
  hash.set('state', worker.state)
  if (worker.current_jobs.length > 0) hash.set('current_job', worker.current_jobs[0])
  hash.set('last_heartbeat', rqTime(worker.last_heartbeat_at))
  hash.set('birth', rqTime(worker.started_at))
  hash.set('successful_job_count', String(worker.finished_count))
  hash.set('failed_job_count', String(worker.failed_count))
  hash.set('hostname', worker.host)
  hash.set('pid', String(worker.pid))
  hash.set('version', worker.version)
  hash.set('concurrency', String(worker.concurrency))
  return hash
}
