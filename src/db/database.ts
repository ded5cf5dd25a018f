import type { ColumnType, Generated } from 'kysely'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Json = ColumnType<unknown, string, string>

/** housler._tasks: our record of every job, keyed by the pg-boss job id (no FK: pg-boss re-inserts rows). */
export type TaskTable = {
  job_id: string
  kind: string
  session_id: string | null
  priority: Generated<string>
  payload: Json
  progress: Generated<number>
  message: string | null
  attempts: Generated<number>
  max_attempts: number
  depends_on: Generated<string[]>
  permanent_error: Json | null
  cancel_reason: string | null
  created_at: Timestamp
  updated_at: Timestamp
  expired_at: Timestamp | null
}

export type Database = {
  'housler._tasks': TaskTable
}
