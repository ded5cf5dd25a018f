import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { QueueStatsSchema } from '../../../src/http/contract.ts'
import type { ChildJobs } from '../../../src/tasks/services.ts'
import { defineTask } from '../../../src/tasks/types.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { createGates, echoTask, failTask } from '../../helpers/tasks.ts'

const gates = createGates()
const hangTask = defineTask({
  kind: 'hang',
  payload: z.object({}),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  timeoutSeconds: 1,
  async handler(_payload, ctx) {
    await ctx.progress(5, 'Зависание...')
    return new Promise(() => {})
  },
})

/** Runs two echo jobs as its children, as find-similar runs its analogs' pages. */
const fanOutTask = defineTask<Record<string, never>, { children: number }, { children: ChildJobs }>({
  kind: 'fan-out',
  payload: z.object({}),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  spawnsChildren: true,
  async handler(_payload, ctx) {
    const requests = ['a', 'b'].map((ref) => ({ ref, kind: 'echo', payload: { value: ref } }))
    const outcomes = await ctx.deps.children.run(ctx.jobId, null, requests, { concurrency: 2, waitSeconds: 30, signal: ctx.signal })
    return { children: outcomes.filter((o) => o.status === 'finished').length }
  },
})

let service: TestService
beforeAll(async () => {
  service = await startTestService({
    tasks: [echoTask, failTask, gates.task, hangTask, fanOutTask],
    worker: { concurrency: 2 },
    env: { RQ_RESULT_TTL: '1', RQ_FAILURE_TTL: '2', WORKER_POLL_INTERVAL_MS: '200' },
  })
})
afterAll(() => service.close())

async function post(kind: string, body: object = {}): Promise<string> {
  const response = await fetch(`${service.baseUrl}/api/tasks/${kind}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(202)
  return (await response.json()).job_id
}

describe('RQ semantics', () => {
  it('counts every status word in queue-stats', async () => {
    // Fill both slots with gated jobs (started), queue one more behind them (queued), add a
    // scheduled job, a deferred flow step, a finished, a failed and a canceled job.
    const arrivals = [gates.nextArrival(), gates.nextArrival()]
    const started = [await post('gate'), await post('gate')]
    await Promise.all(arrivals)
    const queued = await post('gate')
    const scheduled = await post('echo', { enqueue_in: 3600 })
    const flow = await service.queue.enqueueFlow([
      { ref: 'a', kind: 'gate', payload: {} },
      { ref: 'b', kind: 'echo', payload: {}, dependsOn: ['a'] },
    ])
    const canceled = await post('echo', { enqueue_in: 3600 })
    await service.queue.cancel(canceled)
    const stats = QueueStatsSchema.parse(await (await fetch(`${service.baseUrl}/api/tasks/queue-stats`)).json())
    expect(stats.by_kind.gate).toMatchObject({ started_jobs: 2, queued_jobs: 2 })
    expect(stats.by_kind.echo).toMatchObject({ scheduled_jobs: 1, deferred_jobs: 1, canceled_jobs: 1 })
    for (const [id, status] of [
      [started[0], 'started'],
      [queued, 'queued'],
      [scheduled, 'scheduled'],
      [flow.b, 'deferred'],
      [canceled, 'canceled'],
    ]) {
      expect((await service.queue.getStatus(id)).status).toBe(status)
    }
    for (const id of gates.waitingIds()) gates.release(id)
    // Release the rest as they arrive, then check finished and failed counts.
    const drain = setInterval(() => gates.waitingIds().forEach((id) => gates.release(id)), 20)
    await waitForStatus(service.baseUrl, flow.b, ['finished'])
    await waitForStatus(service.baseUrl, queued, ['finished'])
    clearInterval(drain)
    const failed = await post('fail', { message: 'nope' })
    await waitForStatus(service.baseUrl, failed, ['failed'])
    const after = await service.queue.monitoring.stats({ fresh: true })
    expect(after.by_kind.gate.finished_jobs).toBe(4)
    expect(after.by_kind.fail.failed_jobs).toBe(1)
    expect(after.finished_jobs).toBe(after.by_kind.gate.finished_jobs + after.by_kind.echo.finished_jobs)
  })

  it('passes a parent result to its dependent and keeps the dependent deferred until then', async () => {
    const flow = await service.queue.enqueueFlow([
      { ref: 'parent', kind: 'echo', payload: { value: 'from parent' } },
      { ref: 'child', kind: 'echo', payload: { value: 'child' }, dependsOn: ['parent'] },
    ])
    const child = await waitForStatus(service.baseUrl, flow.child, ['finished'])
    expect(child.depends_on).toEqual([flow.parent])
    expect(child.result.data.parents[0]).toMatchObject({ jobId: flow.parent, kind: 'echo' })
    expect(child.result.data.parents[0].result.data.value).toBe('from parent')
  })

  it('cancels the dependents of a failed parent with a clear error', async () => {
    const flow = await service.queue.enqueueFlow([
      { ref: 'parent', kind: 'fail', payload: { message: 'parse failed' } },
      { ref: 'child', kind: 'echo', payload: {}, dependsOn: ['parent'] },
      { ref: 'grandchild', kind: 'echo', payload: {}, dependsOn: ['child'] },
    ])
    const child = await waitForStatus(service.baseUrl, flow.child, ['canceled', 'failed', 'finished'])
    expect(child.status).toBe('canceled')
    expect(child.error).toContain(flow.parent)
    const grandchild = await waitForStatus(service.baseUrl, flow.grandchild, ['canceled', 'failed', 'finished'])
    expect(grandchild.status).toBe('canceled')
  })

  it('fails a job past its timeout with a timeout error and frees the slot', async () => {
    const id = await post('hang')
    const status = await waitForStatus(service.baseUrl, id, ['failed'])
    expect(status.error).toMatch(/timeout of 1 s/)
    expect(await waitForStatus(service.baseUrl, await post('echo'), ['finished'])).toMatchObject({ status: 'finished' })
  })

  it('answers 404 "expired" after RQ_RESULT_TTL and RQ_FAILURE_TTL', async () => {
    const finished = await post('echo', { value: 1 })
    const failed = await post('fail', { message: 'old news' })
    await waitForStatus(service.baseUrl, finished, ['finished'])
    await waitForStatus(service.baseUrl, failed, ['failed'])
    // TTLs are 1 s (finished) and 2 s (failed): right after the end both are still readable.
    let expired = (await service.runtime.cleanup()).expired
    expect((await fetch(`${service.baseUrl}/api/tasks/status/${failed}`)).status).toBe(200)
    await until('the failed job to expire', async () => {
      expired += (await service.runtime.cleanup()).expired
      return (await fetch(`${service.baseUrl}/api/tasks/status/${failed}`)).status === 404 ? true : undefined
    }, 10_000, 200)
    // At least these two (earlier tests' jobs may expire in the same passes).
    expect(expired).toBeGreaterThanOrEqual(2)
    for (const id of [finished, failed]) {
      const response = await fetch(`${service.baseUrl}/api/tasks/status/${id}`)
      expect(response.status).toBe(404)
      const body = await response.json()
      expect(body.error).toMatch(/expired/)
      expect(body.details).toEqual({ job_id: id })
    }
  })

  it('drops the child links of a parent the TTL cleanup expires, and links whose parent is gone, and keeps a live parent\'s', async () => {
    const links = async (parent: string) =>
      (await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler._task_children WHERE parent_job_id = ${parent}`.execute(service.db.db)).rows[0].n
    const parent = await post('fan-out')
    expect(await waitForStatus(service.baseUrl, parent, ['finished'])).toMatchObject({ result: { children: 2 }, children: { total: 2, finished: 2, failed: 0 } })
    expect(await links(parent)).toBe(2)
    // A link whose parent row is gone, and links of a parent still waiting to run.
    const gone = randomUUID()
    const live = await post('echo', { enqueue_in: 3600 })
    for (const [child, owner] of [[randomUUID(), gone], [randomUUID(), live]]) {
      await sql`INSERT INTO housler._task_children (child_job_id, parent_job_id, ref) VALUES (${child}, ${owner}, 'test')`.execute(service.db.db)
    }
    await until('the parent to expire', async () => {
      await service.runtime.cleanup()
      return (await fetch(`${service.baseUrl}/api/tasks/status/${parent}`)).status === 404 ? true : undefined
    }, 10_000, 200)
    expect(await links(parent)).toBe(0)
    expect(await links(gone)).toBe(0)
    expect(await links(live)).toBe(1)
    await service.queue.cancel(live)
  })

  it('settles a permanent failure at once, without retries', async () => {
    const id = await post('fail', { message: 'listing removed', permanent: true })
    const status = await waitForStatus(service.baseUrl, id, ['failed'])
    expect(status).toMatchObject({ error: 'listing removed', attempt: 1 })
  })
})
