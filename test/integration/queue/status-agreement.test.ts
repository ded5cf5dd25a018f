/**
 * One status mapping (housler.rq_status, migration 0005): over random pg-boss job states, the status
 * endpoint, the queue counts, the dashboard, the SQL views and the webhook trigger all say the same.
 * The job rows are forced into each state directly (a test-only write to pgboss.job): the states a
 * worker, a retry, a cancel or a permanent failure leave behind, in every combination.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STATUSES, TERMINAL_STATUSES, type Status } from '../../../src/queue/index.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

let service: TestService

beforeAll(async () => {
  // No worker: nothing moves a job but the test.
  service = await startTestService({ tasks: [echoTask], worker: false })
})
afterAll(() => service?.close())

const PG_BOSS_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const

const jobState = fc.record({
  state: fc.constantFrom(...PG_BOSS_STATES),
  blocked: fc.boolean(),
  runsLater: fc.boolean(),
  permanent: fc.boolean(),
  // Tombstones are rarer than live jobs, as in a real table.
  expired: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  output: fc.constantFrom(null, { message: 'top-level' }, { value: { message: 'nested' } }, { message: 'timed out', code: 'JobTimeout' }),
  cancelReason: fc.constantFrom(null, 'Canceled by request'),
})
type JobState = typeof jobState extends fc.Arbitrary<infer T> ? T : never

/** The documented meaning of each state, written from the README's status table. */
function expectedStatus(job: JobState): Status | 'expired' {
  if (job.expired) return 'expired'
  const ended = { completed: 'finished', failed: 'failed', cancelled: 'canceled', active: 'started' } as const
  if (job.state in ended) return ended[job.state as keyof typeof ended]
  if (job.permanent) return 'failed'
  if (job.blocked) return 'deferred'
  return job.runsLater ? 'scheduled' : 'queued'
}

const COUNT_KEYS: Record<Status, string> = {
  queued: 'queued_jobs',
  started: 'started_jobs',
  deferred: 'deferred_jobs',
  scheduled: 'scheduled_jobs',
  finished: 'finished_jobs',
  failed: 'failed_jobs',
  canceled: 'canceled_jobs',
}

async function force(ids: string[], jobs: JobState[]): Promise<void> {
  const pool = service.db.pool
  for (const [i, job] of jobs.entries()) {
    const id = ids[i]
    // Our row first, as the product writes it (a cancel records its reason before pg-boss's state changes).
    await pool.query(`UPDATE housler._tasks SET permanent_error = $2, cancel_reason = $3 WHERE job_id = $1`, [
      id,
      job.permanent ? JSON.stringify({ message: 'cannot be retried', code: 'PermanentTaskFailure', attempt: 1 }) : null,
      job.cancelReason,
    ])
    await pool.query(
      `UPDATE pgboss.job SET state = $2::pgboss.job_state, blocked = $3, output = $4,
         start_after = now() + CASE WHEN $5 THEN interval '1 hour' ELSE interval '-1 second' END,
         started_on = CASE WHEN $2 IN ('created') THEN NULL ELSE now() - interval '2 seconds' END,
         completed_on = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() END
       WHERE id = $1`,
      [id, job.state, job.blocked, job.output === null ? null : JSON.stringify(job.output), job.runsLater],
    )
    if (job.expired) {
      // As the TTL cleanup leaves it: a tombstone row, the pg-boss job gone.
      await pool.query(`UPDATE housler._tasks SET expired_at = now(), payload = '{}' WHERE job_id = $1`, [id])
      await pool.query(`DELETE FROM pgboss.job WHERE id = $1`, [id])
    }
  }
}

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${service.baseUrl}${path}`)
  return { status: response.status, body: await response.json() }
}

describe('one status mapping', () => {
  it('status, queue counts, dashboard, SQL views and webhooks agree on every job state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jobState, { minLength: 1, maxLength: 8 }), async (jobs) => {
        const pool = service.db.pool
        await pool.query(`DELETE FROM pgboss.job WHERE name = 'echo'`)
        await pool.query(`DELETE FROM housler._tasks WHERE kind = 'echo'`)
        const ids = (await service.queue.enqueueMany(jobs.map((_, i) => ({ kind: 'echo', payload: { value: i } })))).map((outcome) => outcome.jobId)
        await pool.query(`INSERT INTO housler.webhooks (job_id, url, events) SELECT unnest($1::uuid[]), 'https://hooks.example.com/h', '{finished,failed,canceled}'`, [ids])
        await force(ids, jobs)

        const view = new Map(
          (
            await pool.query<{ id: string; status: string; error: string | null; error_code: string | null }>(
              `SELECT id, status, error, error_code FROM housler.jobs WHERE id = ANY($1)`,
              [ids],
            )
          ).rows.map(
            (row) => [row.id, row],
          ),
        )
        for (const [i, id] of ids.entries()) {
          const expected = expectedStatus(jobs[i])
          expect(view.get(id)?.status, JSON.stringify(jobs[i])).toBe(expected)
          const status = await getJson(`/api/tasks/status/${id}`)
          const detail = await getJson(`/dashboard/api/jobs/${id}`)
          if (expected === 'expired') {
            expect([status.status, detail.status]).toEqual([404, 404])
            continue
          }
          expect(status.body.status).toBe(expected)
          expect(detail.body.status).toBe(expected)
          // The dashboard offers Cancel exactly for the statuses the queue will cancel.
          expect(detail.body.html.job.includes('id="cancel"')).toBe(!TERMINAL_STATUSES.has(expected))
          if (expected === 'failed') {
            expect(status.body.error).toBe(view.get(id)!.error ?? 'Job failed')
            expect(status.body.error_code).toBe(view.get(id)!.error_code ?? undefined)
          }
        }

        const live = ids.filter((_, i) => expectedStatus(jobs[i]) !== 'expired')
        const perStatus = Object.fromEntries(STATUSES.map((s) => [s, live.filter((id) => view.get(id)!.status === s).length]))
        const stats = await service.queue.monitoring.stats({ fresh: true })
        expect(Object.fromEntries(STATUSES.map((s) => [s, (stats.by_kind.echo as Record<string, number>)[COUNT_KEYS[s]]]))).toEqual(perStatus)
        const viewCounts = (await pool.query<{ status: string; jobs: number }>(`SELECT status, jobs FROM housler.queue_stats WHERE kind = 'echo'`)).rows
        expect(Object.fromEntries(STATUSES.map((s) => [s, viewCounts.find((row) => row.status === s)?.jobs ?? 0]))).toEqual(perStatus)
        const overview = await getJson('/dashboard/api/overview')
        const dashboardCounts = (overview.body.stats as Array<{ kind: string; status: string; jobs: number }>).filter((row) => row.kind === 'echo')
        expect(Object.fromEntries(STATUSES.map((s) => [s, dashboardCounts.find((row) => row.status === s)?.jobs ?? 0]))).toEqual(perStatus)
        for (const s of STATUSES) expect((await getJson(`/dashboard/api/jobs?kind=echo&status=${s}`)).body.total).toBe(perStatus[s])
        const failedView = (await pool.query<{ id: string }>(`SELECT id FROM housler.failed_jobs WHERE kind = 'echo'`)).rows.map((row) => row.id)
        expect(new Set(failedView)).toEqual(new Set(live.filter((id) => view.get(id)!.status === 'failed')))

        // The trigger's event word and error are the view's, for every job that ended.
        const events = (await pool.query<{ job_id: string; event: string; body: string }>(`SELECT job_id, event, body FROM housler.webhook_events WHERE job_id = ANY($1)`, [ids])).rows
        for (const event of events) {
          const job = jobs[ids.indexOf(event.job_id)]
          if (job.expired) continue
          const row = view.get(event.job_id)!
          expect(event.event).toBe(row.status)
          const body = JSON.parse(event.body)
          if (row.status === 'failed') expect(body.error).toBe(row.error)
          if (row.status === 'canceled') expect(body.error).toBe(row.error ?? 'Canceled')
        }
        const ended = ids.filter((_, i) => ['completed', 'failed', 'cancelled'].includes(jobs[i].state))
        expect(new Set(events.map((event) => event.job_id))).toEqual(new Set(ended))
      }),
      { numRuns: 20 },
    )
    // 20 random tables of up to 8 jobs, each read through six surfaces: minutes on a loaded machine.
  }, 180_000)
})
