import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { sql } from 'kysely'
import { AppError } from '../../../src/errors.ts'
import { defineTask } from '../../../src/tasks/types.ts'
import { createGates, echoTask } from '../../helpers/tasks.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const post = (service: TestService, path: string, body: unknown = {}) =>
  fetch(`${service.baseUrl}/api/tasks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

const calls = new Map<string, number>()
const ran: string[] = []

const recordTask = defineTask({
  kind: 'record',
  payload: z.object({ label: z.string() }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload) {
    ran.push(payload.label)
    return { label: payload.label }
  },
})

/** Fails `failures` times per label, then succeeds. */
const flakyTask = defineTask({
  kind: 'flaky',
  payload: z.object({ label: z.string(), failures: z.number().int(), permanent: z.boolean().default(false) }),
  retry: { maxAttempts: 3, backoffSeconds: 1, backoffMaxSeconds: 2 },
  async handler(payload, ctx) {
    const n = (calls.get(payload.label) ?? 0) + 1
    calls.set(payload.label, n)
    if (payload.permanent) throw new AppError('PermanentTaskFailure', `no retry can fix ${payload.label}`)
    if (n <= payload.failures) throw new Error(`transient failure ${n}`)
    return { attempt: ctx.attempt, calls: n }
  },
})

/** Fails the first call (single attempt), succeeds after a requeue. */
const onceTask = defineTask({
  kind: 'once',
  payload: z.object({ label: z.string() }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload) {
    const n = (calls.get(payload.label) ?? 0) + 1
    calls.set(payload.label, n)
    if (n === 1) throw new Error('first run fails')
    return { calls: n }
  },
})

describe('priorities, retries, cancellation (issue 6)', () => {
  const gates = createGates()
  let service: TestService

  beforeAll(async () => {
    service = await startTestService({
      tasks: [gates.task, recordTask, flakyTask, onceTask, echoTask],
      worker: { concurrency: 1 },
      env: { WORKER_POLL_INTERVAL_MS: '100', RATE_LIMIT_PER_MINUTE: '0' },
    })
  })
  afterAll(async () => service?.close())

  it('a saturated worker runs high, then normal, then low', async () => {
    const arrival = gates.nextArrival()
    const gate = await (await post(service, 'gate', { label: 'hold' })).json()
    expect(await arrival).toBe(gate.job_id)
    const burst = ['low', 'normal', 'high', 'low', 'high', 'normal'].map((priority, i) => ({ priority, label: `${priority}-${i}` }))
    const ids: string[] = []
    for (const job of burst) ids.push((await (await post(service, 'record', job)).json()).job_id)
    for (const id of ids) expect((await waitForStatus(service.baseUrl, id, ['queued'])).status).toBe('queued')
    gates.release(gate.job_id)
    for (const id of ids) await waitForStatus(service.baseUrl, id, ['finished'])
    expect(ran.map((label) => label.split('-')[0])).toEqual(['high', 'high', 'normal', 'normal', 'low', 'low'])
    // Within a priority, first come first served.
    expect(ran).toEqual(['high-2', 'high-4', 'normal-1', 'normal-5', 'low-0', 'low-3'])
  })

  it('fails twice, shows scheduled with attempt counters between tries, finishes on attempt 3', async () => {
    const { job_id } = await (await post(service, 'flaky', { label: 'twice', failures: 2 })).json()
    const seen: Array<Record<string, any>> = []
    const final = await until('flaky job to finish', async () => {
      const body = await (await fetch(`${service.baseUrl}/api/tasks/status/${job_id}`)).json()
      if (seen.at(-1)?.status !== body.status || seen.at(-1)?.attempt !== body.attempt) seen.push(body)
      return body.status === 'finished' ? body : undefined
    }, 30_000)
    const scheduled = seen.filter((body) => body.status === 'scheduled')
    expect(scheduled.map((body) => body.attempt)).toEqual([1, 2])
    for (const body of scheduled) {
      expect(body.max_attempts).toBe(3)
      expect(Date.parse(body.next_attempt_at)).toBeGreaterThan(Date.parse(body.created_at))
      expect(body.error).toMatch(/transient failure/)
    }
    expect(final.attempt).toBe(3)
    expect(final.result).toEqual({ attempt: 3, calls: 3 })
    expect(calls.get('twice')).toBe(3)
  })

  it('does not retry a permanent failure', async () => {
    const { job_id } = await (await post(service, 'flaky', { label: 'permanent', failures: 0, permanent: true })).json()
    const failed = await waitForStatus(service.baseUrl, job_id, ['failed'])
    expect(failed.error).toMatch(/no retry can fix/)
    // pg-boss's own record must be terminal too (not a pending retry): then no further call can happen.
    await until('pg-boss to settle the job as failed', async () => {
      const { rows } = await sql<{ state: string }>`SELECT state FROM pgboss.job WHERE id = ${job_id}`.execute(service.db.db)
      return rows[0]?.state === 'failed' ? true : undefined
    })
    expect(calls.get('permanent')).toBe(1)
    expect((await waitForStatus(service.baseUrl, job_id, ['failed'])).status).toBe('failed')
  })

  it('requeue runs a failed job again', async () => {
    const { job_id } = await (await post(service, 'once', { label: 'requeue-me' })).json()
    await waitForStatus(service.baseUrl, job_id, ['failed'])
    const response = await post(service, `${job_id}/requeue`)
    expect(response.status).toBe(200)
    const finished = await waitForStatus(service.baseUrl, job_id, ['finished'])
    expect(finished.result).toEqual({ calls: 2 })
  })

  it('cancels a running job within 2 s and a queued one at once', async () => {
    const arrival = gates.nextArrival()
    const running = (await (await post(service, 'gate', { label: 'cancel-running' })).json()).job_id
    expect(await arrival).toBe(running)
    // Concurrency 1: this one waits in the queue behind the running gate.
    const queued = (await (await post(service, 'echo', { value: 'never' })).json()).job_id
    expect((await waitForStatus(service.baseUrl, queued, ['queued'])).status).toBe('queued')

    const queuedCancel = await post(service, `${queued}/cancel`)
    expect(queuedCancel.status).toBe(200)
    expect((await queuedCancel.json()).status).toBe('canceled')

    const started = performance.now()
    const response = await post(service, `${running}/cancel`)
    expect(response.status).toBe(200)
    // The worker's slot is free only once the handler has returned (its signal fired and it rejected).
    await until('the handler to stop', () => (service.worker!.active().some((job) => job.id === running) ? undefined : true), 2000)
    const canceled = await waitForStatus(service.baseUrl, running, ['canceled'], 2000)
    const elapsedMs = performance.now() - started
    expect(canceled.status).toBe('canceled')
    expect(elapsedMs).toBeLessThan(2000)
    expect((await waitForStatus(service.baseUrl, queued, ['canceled'])).status).toBe('canceled')
  })
})
