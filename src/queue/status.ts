/** RQ's status words, the only ones the API speaks. */
export const STATUSES = ['queued', 'started', 'deferred', 'scheduled', 'finished', 'failed', 'canceled'] as const
export type Status = (typeof STATUSES)[number]
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['finished', 'failed', 'canceled'])

export const PRIORITIES = ['high', 'normal', 'low'] as const
export type Priority = (typeof PRIORITIES)[number]

/** pg-boss runs higher numbers first. */
export const PG_BOSS_PRIORITY: Record<Priority, number> = { high: 20, normal: 10, low: 0 }

/** A row of the housler.jobs view. */
export type JobRow = {
  id: string
  kind: string
  status: Status | 'expired'
  priority: Priority
  progress: number
  message: string | null
  session_id: string | null
  created_at: Date
  started_at: Date | null
  ended_at: Date | null
  attempts: number
  max_attempts: number
  next_attempt_at: Date | null
  result: unknown
  error: string | null
  /** The failure's code (AppError code, e.g. JobTimeout, ListingNotFound), when it had one. */
  error_code: string | null
  stack: string | null
  depends_on: string[]
  payload?: unknown
}

/** What a poller sees when the task has not said anything yet (Russian, as the guide's UI). */
const DEFAULT_MESSAGES: Record<Status, string> = {
  queued: 'Задача в очереди...',
  deferred: 'Ожидание предыдущей задачи...',
  scheduled: 'Запланировано...',
  started: 'Обработка...',
  finished: 'Готово',
  failed: 'Ошибка',
  canceled: 'Отменено',
}

export type StatusBody = {
  job_id: string
  kind: string
  status: Status
  priority: Priority
  created_at: string
  started_at: string | null
  ended_at: string | null
  progress: number
  message: string
  attempt: number
  max_attempts: number
  session_id: string | null
  depends_on?: string[]
  next_attempt_at?: string
  result?: unknown
  error?: string
  /** Beside `error` when the failure had a code: clients decide by it, never by the message. */
  error_code?: string
}

const iso = (value: Date | null) => (value ? new Date(value).toISOString() : null)

/** The guide's status body; `result` only when finished, `error` only when failed or canceled. */
export function jobToStatusBody(row: JobRow & { status: Status }): StatusBody {
  const body: StatusBody = {
    job_id: row.id,
    kind: row.kind,
    status: row.status,
    priority: row.priority,
    created_at: iso(row.created_at)!,
    started_at: iso(row.started_at),
    ended_at: iso(row.ended_at),
    progress: row.progress,
    message: row.message ?? DEFAULT_MESSAGES[row.status],
    attempt: row.attempts,
    max_attempts: row.max_attempts,
    session_id: row.session_id,
  }
  if (row.depends_on.length > 0) body.depends_on = row.depends_on
  if (row.status === 'scheduled' && row.next_attempt_at) body.next_attempt_at = iso(row.next_attempt_at)!
  if (row.status === 'finished') body.result = row.result
  if ((row.status === 'failed' || row.status === 'canceled') && row.error) body.error = row.error
  if (row.status === 'failed' && !row.error) body.error = 'Job failed'
  // A job between attempts keeps the last error visible, so a poller knows why it is waiting.
  if (row.status === 'scheduled' && row.error) body.error = row.error
  if (body.error !== undefined && row.error_code) body.error_code = row.error_code
  return body
}
