import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { createGates } from '../../helpers/tasks.ts'

const gates = createGates()
let service: TestService
const starts: number[] = []

beforeAll(async () => {
  // A poll interval far longer than the test: only the consumption loop itself can refill slots.
  service = await startTestService({
    tasks: [gates.task],
    worker: { concurrency: 4, events: { onJobStart: () => void starts.push(performance.now()) } },
    env: { WORKER_POLL_INTERVAL_MS: '60000' },
  })
})
afterAll(() => service.close())

describe('the consumption loop', () => {
  it('refills every freed slot at once while jobs are queued', async () => {
    const firstFour = [gates.nextArrival(), gates.nextArrival(), gates.nextArrival(), gates.nextArrival()]
    const ids = (await service.queue.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ kind: 'gate', payload: { label: String(i) } })))).map((outcome) => outcome.jobId)
    await Promise.all(firstFour)
    expect(gates.waitingIds()).toHaveLength(4)
    const stats = await service.queue.monitoring.stats({ fresh: true })
    expect(stats.by_kind.gate).toMatchObject({ started_jobs: 4, queued_jobs: 36 })

    // Free one slot at a time: each release must be followed by a new arrival, with all four busy.
    const refillMs: number[] = []
    for (let released = 0; released < 36; released++) {
      const next = gates.nextArrival()
      const releasedAt = performance.now()
      gates.release(gates.waitingIds()[0])
      await next
      refillMs.push(performance.now() - releasedAt)
      expect(gates.waitingIds()).toHaveLength(4)
    }
    for (const id of gates.waitingIds()) gates.release(id)
    refillMs.sort((a, b) => a - b)
    console.log(`slot refill after a job ends: p50 ${refillMs[18].toFixed(1)} ms, max ${refillMs[35].toFixed(1)} ms (poll interval 60 s)`)
    // Well under the poll interval: no slot waited for a timer.
    expect(refillMs[35]).toBeLessThan(5000)
    expect(new Set(gates.started)).toEqual(new Set(ids))
  })
})
