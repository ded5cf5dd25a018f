import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGroupCommit } from '../../../src/queue/group-commit.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

let service: TestService

beforeAll(async () => {
  // No worker: the jobs stay queued, so what was written is what we read back.
  service = await startTestService({ tasks: [echoTask], env: { RATE_LIMIT_PER_MINUTE: '0' }, worker: false })
})
afterAll(() => service.close())

describe('group commit of concurrent enqueues', () => {
  it('gives each of 50 concurrent HTTP requests its own job, written in fewer transactions', async () => {
    const before = service.queue.monitoring.groupCommit()
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${service.baseUrl}/api/tasks/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value: i }),
        }),
      ),
    )
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(202))
    const ids = await Promise.all(responses.map(async (response) => ((await response.json()) as { job_id: string }).job_id))
    expect(new Set(ids).size).toBe(50)
    const after = service.queue.monitoring.groupCommit()
    expect(after.requests - before.requests).toBe(50)
    expect(after.groups - before.groups).toBeLessThan(50)
    // Each id is its own job carrying its own payload.
    for (const [i, id] of ids.entries()) {
      const row = await service.queue.monitoring.findJob(id)
      expect(row?.payload).toMatchObject({ value: i })
      expect(row?.status).toBe('queued')
    }
  })

  it('fails a bad payload alone while its concurrent neighbours are enqueued', async () => {
    const bodies = [{ value: 1 }, { steps: 'many' }, { value: 3 }]
    const responses = await Promise.all(
      bodies.map((body) =>
        fetch(`${service.baseUrl}/api/tasks/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      ),
    )
    expect(responses.map((response) => response.status)).toEqual([202, 400, 202])
    const error = (await responses[1].json()) as { error: string; details: unknown }
    expect(error.error).toMatch(/Invalid payload/)
  })

  it('rejects every request of a group whose write fails, and resolves each with its own result', async () => {
    const groups: number[][] = []
    let fail = false
    const batcher = createGroupCommit<number, string>({
      async write(requests) {
        groups.push(requests)
        if (fail) throw new Error('database down')
        return requests.map((n) => `id-${n}`)
      },
    })
    expect(await Promise.all([1, 2, 3].map((n) => batcher.add(n)))).toEqual(['id-1', 'id-2', 'id-3'])
    expect(groups).toEqual([[1, 2, 3]])
    fail = true
    const outcomes = await Promise.allSettled([4, 5].map((n) => batcher.add(n)))
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected'])
  })
})
