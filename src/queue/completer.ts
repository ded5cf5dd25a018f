import type { PgBoss } from 'pg-boss'
// pg-boss's own statement for completing several jobs with one output each (what its work() uses
// for per-job results); not on its public API, so imported from its SQL builder.
import { completeJobsWithOutputs } from 'pg-boss/dist/plans.js'
import { createGroupCommit } from './group-commit.ts'
import type { SqlAdapter } from './prepared.ts'

type Completion = { id: string; retryCount: number; output: object }
type Outcome = boolean | Error

/**
 * Group commit for job completions. pg-boss's complete() is one UPDATE and one commit per job, and
 * with 16 slots finishing no-op tasks that commit is most of a job's database time. Completions of
 * one kind that arrive in the same event-loop turn, or while the previous group is being written,
 * share one statement (pg-boss's completeJobsWithOutputs: each job keeps its own output and its
 * attempt fence). Resolves with whether the job was still this worker's to complete (false: it was
 * canceled or expired meanwhile). A group that fails on a bad value (a data error, SQLSTATE class 22)
 * is written again one job per statement, so one job's unstorable output fails only that job.
 */
export function createCompleter(options: { boss: PgBoss; db: SqlAdapter; schema?: string }) {
  const schema = options.schema ?? 'pgboss'
  const tables = new Map<string, Promise<string>>()
  const groups = new Map<string, ReturnType<typeof createGroupCommit<Completion, Outcome>>>()

  function tableOf(kind: string): Promise<string> {
    let table = tables.get(kind)
    if (!table) {
      // The queue's table: job_common, or its own partition when created with partition: true.
      table = options.boss.getQueue(kind).then((queue) => (queue as { table?: string } | null)?.table ?? 'job_common')
      table.catch(() => tables.delete(kind))
      tables.set(kind, table)
    }
    return table
  }

  async function write(kind: string, items: Completion[]): Promise<string[]> {
    const sql = completeJobsWithOutputs(schema, await tableOf(kind))
    const payload = items.map((item) => ({ id: item.id, retry_count: item.retryCount, output: item.output }))
    const { rows } = await options.db.executeSql(sql, [kind, JSON.stringify(payload)])
    return (rows[0]?.ids as string[] | undefined) ?? []
  }

  async function writeGroup(kind: string, items: Completion[]): Promise<Outcome[]> {
    try {
      const settled = new Set(await write(kind, items))
      return items.map((item) => settled.has(item.id))
    } catch (e) {
      const dataError = typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('22')
      if (items.length === 1 || !dataError) throw e
      return Promise.all(
        items.map((item) =>
          write(kind, [item]).then(
            (ids) => ids.includes(item.id),
            (error: Error) => error,
          ),
        ),
      )
    }
  }

  return {
    async complete(kind: string, job: { id: string; retryCount: number }, output: object): Promise<boolean> {
      let group = groups.get(kind)
      if (!group) {
        // Handlers of one fetched batch end in one turn: their completions wait for its end together.
        group = createGroupCommit<Completion, Outcome>({ write: (items) => writeGroup(kind, items), maxBatch: 200, window: 'turn' })
        groups.set(kind, group)
      }
      const outcome = await group.add({ id: job.id, retryCount: job.retryCount, output })
      if (outcome instanceof Error) throw outcome
      return outcome
    },
  }
}

export type Completer = ReturnType<typeof createCompleter>
