import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'

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
})
