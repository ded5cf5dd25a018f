import type { PgBoss } from 'pg-boss'
import { createGroupCommit } from './group-commit.ts'
import { createCompletionSql } from './pg-boss-internals.ts'
import type { SqlAdapter } from './prepared.ts'

type Completion = { id: string; retryCount: number; output: object }
type Outcome = boolean | Error

/**
 * Group commit for job completions. pg-boss's complete() is one UPDATE and one commit per job, and
 * with 16 slots finishing no-op tasks that commit is most of a job's database time (grouping took the
 * 1-process drain from 2,438 to 2,945 jobs/s, bench/RESULTS.md bd7f87a). Completions of
 * one kind that arrive in the same event-loop turn, or while the previous group is being written,
 * share one statement (pg-boss's completeJobsWithOutputs: each job keeps its own output and its
 * attempt fence). Resolves with whether the job was still this worker's to complete (false: it was
 * canceled or expired meanwhile). A group that fails on a bad value (a data error, SQLSTATE class 22)
 * is written again one job per statement, so one job's unstorable output fails only that job.
 */
export function createCompleter(options: { boss: PgBoss; db: SqlAdapter }) {
  const completionSql = createCompletionSql(options.boss)
  const groups = new Map<string, ReturnType<typeof createGroupCommit<Completion, Outcome>>>()

  async function write(kind: string, items: Completion[]): Promise<string[]> {
    const sql = await completionSql(kind)
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
