import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AppError } from '../../../src/errors.ts'
import { defineTask } from '../../../src/tasks/types.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const runs: string[] = []

/** A listing that is gone: every run fails permanently, as a 404 parse does. */
const goneTask = defineTask({
  kind: 'gone',
  payload: z.object({ url: z.string() }),
  retry: { maxAttempts: 3, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(_payload, ctx) {
    runs.push(ctx.jobId)
    await ctx.progress(40, 'Извлечение данных...')
    throw new AppError('ListingNotFound', 'Listing removed (HTTP 404)')
  },
})

let service: TestService
const ACTION = { 'x-housler-dashboard': '1' }

beforeAll(async () => {
  service = await startTestService({ tasks: [goneTask], env: { WORKER_POLL_INTERVAL_MS: '100', RATE_LIMIT_PER_MINUTE: '0' } })
})
afterAll(async () => service?.close())

async function pgBossState(jobId: string) {
  const { rows } = await sql<{ state: string; retry_count: number; retry_limit: number }>`
    SELECT state, retry_count, retry_limit FROM pgboss.job WHERE id = ${jobId}::uuid`.execute(service.db.db)
  return rows[0]
}

describe('dashboard requeue of a permanent failure', () => {
  it('runs the job exactly once more, and attempts never exceed their limit', async () => {
    const url = 'https://www.cian.ru/sale/flat/404/'
    const enqueued = await fetch(`${service.baseUrl}/api/tasks/gone`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) })
    const { job_id } = await enqueued.json()
    await waitForStatus(service.baseUrl, job_id, ['failed'])
    await until('pg-boss to settle the failure', async () => ((await pgBossState(job_id)).state === 'failed' ? true : undefined))
    expect(runs.filter((id) => id === job_id)).toHaveLength(1)

    const requeued = await fetch(`${service.baseUrl}/dashboard/api/jobs/${job_id}/requeue`, { method: 'POST', headers: ACTION })
    expect(requeued.status).toBe(200)
    await until('the requeued run', async () => (runs.filter((id) => id === job_id).length >= 2 ? true : undefined))
    await waitForStatus(service.baseUrl, job_id, ['failed'])
    await until('pg-boss to settle the failure again', async () => ((await pgBossState(job_id)).state === 'failed' ? true : undefined))
    // pg-boss holds nothing more to run: the job is failed for good, not waiting for two more retries.
    const boss = await pgBossState(job_id)
    expect(boss.retry_count).toBeGreaterThanOrEqual(boss.retry_limit)
    expect(runs.filter((id) => id === job_id)).toHaveLength(2)

    const status = await (await fetch(`${service.baseUrl}/api/tasks/status/${job_id}`)).json()
    expect(status.attempt).toBeLessThanOrEqual(status.max_attempts)
    const page = await (await fetch(`${service.baseUrl}/dashboard/jobs/${job_id}`)).text()
    const [, shown, limit] = /id="job-attempts">(\d+) of (\d+)</.exec(page) ?? []
    expect(Number(shown)).toBeLessThanOrEqual(Number(limit))
    expect(page).toContain('id="job-error-kind">permanent')
    expect(page).toContain(url)
  })

  it('counts a permanent failure once in the worker, however many claims settle it', async () => {
    const before = service.worker!.counts().failed
    const enqueued = await fetch(`${service.baseUrl}/api/tasks/gone`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://www.cian.ru/sale/flat/405/' }) })
    const { job_id } = await enqueued.json()
    await waitForStatus(service.baseUrl, job_id, ['failed'])
    await until('pg-boss to settle the failure', async () => ((await pgBossState(job_id)).state === 'failed' ? true : undefined))
    expect(service.worker!.counts().failed - before).toBe(1)
  })

  it('lists a failed job with its URL, error kind and attempts, and no progress bar', async () => {
    const page = await (await fetch(`${service.baseUrl}/dashboard/jobs?status=failed`)).text()
    const row = /<tr data-job="[^"]+">[\s\S]*?<\/tr>/.exec(page)?.[0] ?? ''
    expect(row).toMatch(/https:\/\/www\.cian\.ru\/sale\/flat\/40[45]\//)
    expect(row).toMatch(/class="error-kind">permanent/)
    expect(row).toMatch(/class="n attempts">\d+ of \d+</)
    expect(row).not.toContain('role="progressbar"')
    expect(row).toMatch(/<time datetime="\d{4}-\d\d-\d\dT/)
  })
})
