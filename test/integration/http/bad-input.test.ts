import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorBodySchema } from '../../../src/http/contract.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

let service: TestService
beforeAll(async () => {
  service = await startTestService({ tasks: [echoTask], worker: false, env: { BODY_LIMIT_BYTES: '2048' } })
})
afterAll(() => service.close())

const json = { 'Content-Type': 'application/json' }
const CASES: Array<[string, string, RequestInit, number, string]> = [
  ['malformed JSON', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"session_id": ' }, 400, 'ValidationFailed'],
  ['a JSON array', '/api/tasks/echo', { method: 'POST', headers: json, body: '[1,2]' }, 400, 'ValidationFailed'],
  ['a JSON string', '/api/tasks/echo', { method: 'POST', headers: json, body: '"x"' }, 400, 'ValidationFailed'],
  ['JSON null', '/api/tasks/echo', { method: 'POST', headers: json, body: 'null' }, 400, 'ValidationFailed'],
  ['no content type', '/api/tasks/echo', { method: 'POST', body: '{}' }, 400, 'ValidationFailed'],
  ['a wrong type', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"steps":"five"}' }, 400, 'ValidationFailed'],
  ['an out-of-range number', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"steps":1000}' }, 400, 'ValidationFailed'],
  ['a bad priority', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"priority":"urgent"}' }, 400, 'ValidationFailed'],
  ['a bad enqueue_at', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"enqueue_at":"tomorrow"}' }, 400, 'ValidationFailed'],
  ['a body over the limit', '/api/tasks/echo', { method: 'POST', headers: json, body: JSON.stringify({ value: 'x'.repeat(5000) }) }, 413, 'PayloadTooLarge'],
  ['an unknown task kind', '/api/tasks/nope', { method: 'POST', headers: json, body: '{}' }, 404, 'UnknownTaskKind'],
  ['a job id that is not a UUID', '/api/tasks/status/123', {}, 400, 'ValidationFailed'],
  ['a job id with SQL in it', "/api/tasks/status/1'%20or%201=1--", {}, 400, 'ValidationFailed'],
  ['an unknown path', '/api/nothing', {}, 404, 'NotFound'],
  ['cancel of an unknown job', '/api/tasks/2f0e4a8b-1234-4678-9abc-def012345678/cancel', { method: 'POST' }, 404, 'JobNotFound'],
]

describe('bad input', () => {
  it.each(CASES)('answers %s with a 4xx and {error, code, details}', async (_name, path, init, status, code) => {
    const response = await fetch(service.baseUrl + path, init)
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toContain('application/json')
    const body = ErrorBodySchema.parse(await response.json())
    expect(body.code).toBe(code)
    expect(body.error.length).toBeGreaterThan(3)
  })

  it('names the kinds it runs when a kind is unknown', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/nope`, { method: 'POST', headers: json, body: '{}' })
    expect(await response.json()).toMatchObject({ code: 'UnknownTaskKind', details: { kinds: ['echo'] } })
  })

  it('says a job id was never enqueued', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/status/2f0e4a8b-1234-4678-9abc-def012345678`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: expect.stringMatching(/was ever enqueued/), code: 'JobNotFound' })
  })

  it('stores nothing for a refused request', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    await fetch(`${service.baseUrl}/api/tasks/echo`, { method: 'POST', headers: json, body: '{"steps":-1}' })
    expect(await service.queue.monitoring.stats({ fresh: true })).toEqual(before)
  })
})
