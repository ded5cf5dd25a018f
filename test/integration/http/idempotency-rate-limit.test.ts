import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { sql } from 'kysely'
import type { TaskDefinition } from '../../../src/tasks/types.ts'
import { createGates } from '../../helpers/tasks.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

/** A parse-like kind: one unfinished job per session and URL (TaskDefinition.dedupeKey). */
const gates = createGates()
const parseLike: TaskDefinition = {
  ...(gates.task as TaskDefinition),
  kind: 'parse-like',
  payload: z.object({ session_id: z.string().optional(), url: z.string(), label: z.string().default('') }),
  dedupeKey: (payload: { session_id?: string; url: string }) => (payload.session_id ? `${payload.session_id}\n${payload.url}` : undefined),
}

const post = (service: TestService, kind: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${service.baseUrl}/api/tasks/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

describe('idempotent enqueue', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startTestService({ tasks: [parseLike, gates.task], worker: { concurrency: 8 }, env: { RATE_LIMIT_PER_MINUTE: '0', SHUTDOWN_GRACE_SECONDS: '1' } })
  })
  afterAll(async () => service?.close())

  const jobCount = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM housler._tasks`.execute(service.db.db)).rows[0].n)

  it('the same Idempotency-Key and body returns one job, even when the requests race', async () => {
    const before = await jobCount()
    const body = { label: 'same', session_id: 'k1' }
    const responses = await Promise.all(Array.from({ length: 10 }, () => post(service, 'gate', body, { 'Idempotency-Key': 'order-42' })))
    const ids = new Set<string>()
    for (const response of responses) {
      expect(response.status).toBe(202)
      ids.add((await response.json()).job_id)
    }
    expect(ids.size).toBe(1)
    expect(await jobCount()).toBe(before + 1)
    // Key order in the body does not matter; it is the same request.
    const again = await post(service, 'gate', { session_id: 'k1', label: 'same' }, { 'Idempotency-Key': 'order-42' })
    expect((await again.json()).job_id).toBe([...ids][0])
    for (const id of ids) gates.release(id)
  })

  it('the same key with a different body is a 409; other keys and API keys are separate', async () => {
    const first = await (await post(service, 'gate', { label: 'a' }, { 'Idempotency-Key': 'k-2' })).json()
    const conflict = await post(service, 'gate', { label: 'b' }, { 'Idempotency-Key': 'k-2' })
    expect(conflict.status).toBe(409)
    const body = await conflict.json()
    expect(body.error).toMatch(/Idempotency-Key/)
    expect(body.details).toMatchObject({ idempotency_key: 'k-2', job_id: first.job_id })
    const otherClient = await post(service, 'gate', { label: 'b' }, { 'Idempotency-Key': 'k-2', 'X-API-Key': 'client-b' })
    expect(otherClient.status).toBe(202)
    expect((await otherClient.json()).job_id).not.toBe(first.job_id)
    const badKey = await post(service, 'gate', { label: 'c' }, { 'Idempotency-Key': 'has space' })
    expect(badKey.status).toBe(400)
  })

  it('without a key, a parse of the same URL for the same session returns the unfinished job', async () => {
    const body = { session_id: 's-9', url: 'https://www.cian.ru/sale/flat/1/' }
    const [a, b] = await Promise.all([post(service, 'parse-like', body), post(service, 'parse-like', body)])
    const first = (await a.json()).job_id
    expect((await b.json()).job_id).toBe(first)
    await waitForStatus(service.baseUrl, first, ['started'])
    // Running now: still the same job.
    expect((await (await post(service, 'parse-like', body)).json()).job_id).toBe(first)
    // Another session or URL is another job.
    const otherSession = (await (await post(service, 'parse-like', { ...body, session_id: 's-10' })).json()).job_id
    const otherUrl = (await (await post(service, 'parse-like', { ...body, url: 'https://www.cian.ru/sale/flat/2/' })).json()).job_id
    expect(new Set([first, otherSession, otherUrl]).size).toBe(3)
    // Once it finished, a new parse is a new job.
    gates.release(first)
    await waitForStatus(service.baseUrl, first, ['finished'])
    const later = (await (await post(service, 'parse-like', body)).json()).job_id
    expect(later).not.toBe(first)
    for (const id of [otherSession, otherUrl, later]) {
      await waitForStatus(service.baseUrl, id, ['started'])
      gates.release(id)
    }
  })
})

describe('rate limits', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startTestService({ tasks: [gates.task], worker: false, env: { RATE_LIMIT_PER_MINUTE: '3' } })
  })
  afterAll(async () => service?.close())

  it('answers 429 with Retry-After per client once the allowance is spent', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await post(service, 'gate', { label: `${i}` })).status)
    expect(statuses).toEqual([202, 202, 202, 429])
    const limited = await post(service, 'gate', { label: 'x' })
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(20)
    expect(await limited.json()).toMatchObject({ error: expect.stringMatching(/Rate limit/), code: 'RateLimited', details: { limit_per_minute: 3 } })
    // Another API key is another client with its own bucket.
    expect((await post(service, 'gate', { label: 'k' }, { Authorization: 'Bearer other-key' })).status).toBe(202)
    // Reads are not limited.
    expect((await fetch(`${service.baseUrl}/api/tasks/queue-stats`)).status).toBe(200)
  })
})
