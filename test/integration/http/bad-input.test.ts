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
const CASES: Array<[string, string, RequestInit, number]> = [
  ['malformed JSON', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"session_id": ' }, 400],
  ['a JSON array', '/api/tasks/echo', { method: 'POST', headers: json, body: '[1,2]' }, 400],
  ['a JSON string', '/api/tasks/echo', { method: 'POST', headers: json, body: '"x"' }, 400],
  ['JSON null', '/api/tasks/echo', { method: 'POST', headers: json, body: 'null' }, 400],
  ['no content type', '/api/tasks/echo', { method: 'POST', body: '{}' }, 400],
  ['a wrong type', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"steps":"five"}' }, 400],
  ['an out-of-range number', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"steps":1000}' }, 400],
  ['a bad priority', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"priority":"urgent"}' }, 400],
  ['a bad enqueue_at', '/api/tasks/echo', { method: 'POST', headers: json, body: '{"enqueue_at":"tomorrow"}' }, 400],
  ['a body over the limit', '/api/tasks/echo', { method: 'POST', headers: json, body: JSON.stringify({ value: 'x'.repeat(5000) }) }, 413],
  ['an unknown task kind', '/api/tasks/nope', { method: 'POST', headers: json, body: '{}' }, 404],
  ['a job id that is not a UUID', '/api/tasks/status/123', {}, 400],
  ['a job id with SQL in it', "/api/tasks/status/1'%20or%201=1--", {}, 400],
  ['an unknown path', '/api/nothing', {}, 404],
  ['cancel of an unknown job', '/api/tasks/2f0e4a8b-1234-4678-9abc-def012345678/cancel', { method: 'POST' }, 404],
]

describe('bad input', () => {
  it.each(CASES)('answers %s with a 4xx and {error, details}', async (_name, path, init, status) => {
    const response = await fetch(service.baseUrl + path, init)
    expect(response.status).toBe(status)
    expect(response.headers.get('content-type')).toContain('application/json')
    const body = ErrorBodySchema.parse(await response.json())
    expect(body.error.length).toBeGreaterThan(3)
  })

  it('says a job id was never enqueued', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/status/2f0e4a8b-1234-4678-9abc-def012345678`)
    expect(response.status).toBe(404)
    expect((await response.json()).error).toMatch(/was ever enqueued/)
  })

  it('stores nothing for a refused request', async () => {
    const before = await service.queue.monitoring.stats({ fresh: true })
    await fetch(`${service.baseUrl}/api/tasks/echo`, { method: 'POST', headers: json, body: '{"steps":-1}' })
    expect(await service.queue.monitoring.stats({ fresh: true })).toEqual(before)
  })
})
