/**
 * The Queue's enqueue contract: a payload is parsed and admitted exactly once whoever calls, a direct
 * caller cannot skip the URL admission, and a reused job (Idempotency-Key replay) reports its real
 * status and does not count as an enqueue.
 */
import { z } from 'zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { hashRequest } from '../../../src/queue/index.ts'
import { parseTask } from '../../../src/tasks/parse/index.ts'
import { defineTask } from '../../../src/tasks/types.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

let parses = 0
/** Counts how often its payload schema runs. */
const countedTask = defineTask({
  kind: 'counted',
  payload: z.object({ session_id: z.string().optional(), n: z.number() }).transform((payload) => {
    parses++
    return payload
  }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload) {
    return { n: payload.n }
  },
})

let service: TestService

beforeAll(async () => {
  // No worker until the last test: a worker parses a job's data again when it runs it.
  service = await startTestService({ tasks: [countedTask, parseTask], worker: false, env: { RATE_LIMIT_PER_MINUTE: '0' } })
})
afterAll(() => service?.close())

async function post(kind: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${service.baseUrl}/api/tasks/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: await response.json() }
}

async function enqueuedTotal(kind: string): Promise<number> {
  const text = await (await fetch(`${service.baseUrl}/metrics`)).text()
  const line = text.split('\n').find((row) => row.startsWith(`housler_jobs_enqueued_total{kind="${kind}"}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

describe('enqueue', () => {
  it('parses a payload once, through HTTP, a direct call and a flow', async () => {
    parses = 0
    expect((await post('counted', { n: 1 })).status).toBe(202)
    expect(parses).toBe(1)
    await service.queue.enqueue({ kind: 'counted', payload: { n: 2 } })
    expect(parses).toBe(2)
    await service.queue.enqueueFlow([
      { ref: 'a', kind: 'counted', payload: { n: 3 } },
      { ref: 'b', kind: 'counted', payload: { n: 4 }, dependsOn: ['a'] },
    ])
    expect(parses).toBe(4)
  })

  it('refuses a URL the listing policy refuses, for a direct caller too, and writes no job', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    const refused = await service.queue.enqueue({ kind: 'parse', payload: { url: 'http://127.0.0.1/flat/1', session_id: 's' } }).catch((e) => e)
    expect(refused).toBeInstanceOf(AppError)
    expect((refused as AppError).code).toBe('UrlRejected')
    const flow = await service.queue.enqueueFlow([{ ref: 'p', kind: 'parse', payload: { url: 'https://example.com/flat/1', session_id: 's' } }]).catch((e) => e)
    expect((flow as AppError).code).toBe('UrlRejected')
    const after = await service.queue.monitoring.stats({ fresh: true })
    expect(after.by_kind.parse).toEqual(before.by_kind.parse)
  })

  it('answers a replayed Idempotency-Key with the job\'s real status and counts it once', async () => {
    const before = await enqueuedTotal('counted')
    const first = await post('counted', { n: 5 }, { 'Idempotency-Key': 'replay-1' })
    expect(first).toMatchObject({ status: 202, body: { status: 'queued' } })
    service.queue.startWorker()
    await waitForStatus(service.baseUrl, first.body.job_id, ['finished'])
    const replay = await post('counted', { n: 5 }, { 'Idempotency-Key': 'replay-1' })
    expect(replay).toMatchObject({ status: 202, body: { job_id: first.body.job_id, status: 'finished' } })
    const direct = await service.queue.enqueue({
      kind: 'counted',
      payload: { n: 5 },
      idempotency: { client: '-', key: 'replay-1', bodyHash: hashRequest('counted', { n: 5 }) },
    })
    expect(direct).toMatchObject({ jobId: first.body.job_id, reused: true, status: 'finished' })
    expect(await enqueuedTotal('counted')).toBe(before + 1)
  })
})
