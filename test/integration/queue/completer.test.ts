import { PgBoss } from 'pg-boss'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCompleter } from '../../../src/queue/completer.ts'
import { createPreparedAdapter, type SqlAdapter } from '../../../src/queue/prepared.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

let service: TestService
let statements = 0
let db: SqlAdapter
// The test's own pg-boss client on the service's database: it claims jobs as a worker would.
let boss: PgBoss

beforeAll(async () => {
  // No worker: the test claims the jobs itself and completes them through the completer.
  service = await startTestService({ tasks: [echoTask], worker: false })
  boss = new PgBoss({ connectionString: service.databaseUrl, supervise: false, schedule: false, registerInstance: false, max: 2 })
  boss.on('error', () => {})
  await boss.start()
  const prepared = createPreparedAdapter(service.db.pool)
  db = {
    executeSql(text, values) {
      statements++
      return prepared.executeSql(text, values)
    },
  }
})
afterAll(async () => {
  await boss?.stop({ graceful: false, close: true })
  await service?.close()
})

async function claim(count: number) {
  await service.queue.enqueueMany(Array.from({ length: count }, (_, i) => ({ kind: 'echo', payload: { value: i } })))
  const jobs = await boss.fetch('echo', { batchSize: count })
  expect(jobs).toHaveLength(count)
  return jobs
}

describe('grouped job completion', () => {
  it('completes the jobs that end in one turn with one statement, each with its own output', async () => {
    const completer = createCompleter({ boss: boss, db })
    const jobs = await claim(20)
    const before = statements
    const settled = await Promise.all(jobs.map((job, i) => completer.complete('echo', job, { n: i })))
    expect(settled).toEqual(Array(20).fill(true))
    expect(statements - before).toBe(1)
    for (const [i, job] of jobs.entries()) {
      const row = await service.queue.monitoring.findJob(job.id)
      expect(row?.status).toBe('finished')
      expect(row?.result).toEqual({ n: i })
    }
  })

  it('fails only the job whose output cannot be stored, and completes its group', async () => {
    const completer = createCompleter({ boss: boss, db })
    const [first, bad, last] = await claim(3)
    const outcomes = await Promise.allSettled([
      completer.complete('echo', first, { ok: 1 }),
      // jsonb refuses U+0000: a data error (SQLSTATE class 22) for this job alone.
      completer.complete('echo', bad, { text: 'nul \u0000 here' }),
      completer.complete('echo', last, { ok: 3 }),
    ])
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(((outcomes[1] as PromiseRejectedResult).reason as { code?: string }).code).toMatch(/^22/)
    expect((await service.queue.monitoring.findJob(first.id))?.status).toBe('finished')
    expect((await service.queue.monitoring.findJob(bad.id))?.status).toBe('started')
    expect((await service.queue.monitoring.findJob(last.id))?.status).toBe('finished')
  })

  it('answers false for a job that is no longer this claim (canceled meanwhile) and leaves it canceled', async () => {
    const completer = createCompleter({ boss: boss, db })
    const [job] = await claim(1)
    await service.queue.cancel(job.id)
    expect(await completer.complete('echo', job, { late: true })).toBe(false)
    expect((await service.queue.monitoring.findJob(job.id))?.status).toBe('canceled')
  })
})
