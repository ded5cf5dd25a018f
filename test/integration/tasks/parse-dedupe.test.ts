import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { openTestRuntime, startTestService, type TestService } from '../../helpers/service.ts'

let service: TestService
beforeAll(async () => {
  // No worker: the first job stays queued, so the duplicate arrives while it waits.
  service = await startTestService({ tasks: TASKS, deps: createTaskServices, worker: false })
})
afterAll(() => service.close())

async function parse(url: string, sessionId: string) {
  const response = await fetch(`${service.baseUrl}/api/tasks/parse`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, session_id: sessionId }),
  })
  expect(response.status).toBe(202)
  return (await response.json()).job_id as string
}

describe('parse without an Idempotency-Key', () => {
  it('returns the waiting job for the same URL and session instead of a duplicate', async () => {
    const first = await parse('https://spb.cian.ru/sale/flat/1/', 'd-1')
    expect(await parse('https://spb.cian.ru/sale/flat/1/', 'd-1')).toBe(first)
    expect(await parse('https://spb.cian.ru/sale/flat/1/', 'd-2')).not.toBe(first)
    expect(await parse('https://spb.cian.ru/sale/flat/2/', 'd-1')).not.toBe(first)
    expect((await service.queue.monitoring.stats({ fresh: true })).by_kind.parse.queued_jobs).toBe(3)
  })

  it('creates one job for duplicates sent at once from several processes, each answered with it', async () => {
    // Runtimes of their own: each sends on its own connection, so only the key's lock keeps them apart.
    const others = await Promise.all([1, 2, 3].map(() => openTestRuntime({ tasks: TASKS, deps: createTaskServices, databaseUrl: service.databaseUrl, serves: { api: true } })))
    try {
      const payload = { url: 'https://spb.cian.ru/sale/flat/3/', session_id: 'd-3' }
      const sends = others.flatMap((other) => [1, 2, 3].map(() => other.queue.enqueue({ kind: 'parse', payload }).then((outcome) => outcome.jobId)))
      const ids = await Promise.all([...sends, parse(payload.url, payload.session_id)])
      expect(new Set(ids).size).toBe(1)
    } finally {
      await Promise.all(others.map((other) => other.close()))
    }
    const { rows } = await service.db.pool.query(`SELECT count(*)::int AS tasks, count(j.id)::int AS jobs FROM housler._tasks t LEFT JOIN pgboss.job j ON j.id = t.job_id WHERE t.payload ->> 'session_id' = 'd-3'`)
    expect(rows[0]).toEqual({ tasks: 1, jobs: 1 })
  })
})
