import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

// RQ clients choose their job ids (str(uuid4())); the Redis-protocol adapter enqueues under them.
let service: TestService
beforeAll(async () => {
  service = await startTestService({ tasks: [echoTask] })
})
afterAll(() => service.close())

describe('enqueue with a caller-given job id', () => {
  it('creates the job under that id, grouped or alone', async () => {
    const ids = [randomUUID(), randomUUID()]
    expect((await service.queue.enqueue({ kind: 'echo', payload: {}, jobId: ids[0] })).jobId).toBe(ids[0])
    expect(await service.queue.enqueue({ kind: 'echo', payload: {}, jobId: ids[1], idempotency: undefined })).toMatchObject({ jobId: ids[1], reused: false })
    for (const id of ids) expect((await waitForStatus(service.baseUrl, id, ['finished'])).job_id).toBe(id)
  })

  it('refuses an id that is not a UUID, and an id already taken, enqueuing nothing', async () => {
    const before = (await service.queue.monitoring.stats({ fresh: true })).by_kind.echo
    await expect(service.queue.enqueue({ kind: 'echo', payload: {}, jobId: 'my-job' })).rejects.toMatchObject({ code: 'ValidationFailed' })
    const taken = randomUUID()
    await service.queue.enqueue({ kind: 'echo', payload: {}, jobId: taken })
    await expect(service.queue.enqueue({ kind: 'echo', payload: {}, jobId: taken })).rejects.toThrow()
    await waitForStatus(service.baseUrl, taken, ['finished'])
    const after = (await service.queue.monitoring.stats({ fresh: true })).by_kind.echo
    expect(after.finished_jobs + after.queued_jobs + after.started_jobs).toBe(before.finished_jobs + before.queued_jobs + before.started_jobs + 1)
  })
})
