import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EnqueueResponseSchema, StatusBodySchema } from '../../../src/http/contract.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { echoTask, failTask } from '../../helpers/tasks.ts'

let service: TestService

beforeAll(async () => {
  service = await startTestService({ tasks: [echoTask, failTask] })
})
afterAll(() => service.close())

/**
 * The guide's front-end snippet, unchanged but for the endpoint (its task kind is a parameter here,
 * the parse task has its own end-to-end test) and a fetch bound to the test server.
 */
function guideSnippet(baseUrl: string, endpoint: string, body: object) {
  const seen: number[] = []
  const pixelLoader = { updateProgress: (progress: number) => seen.push(progress), showMessage: (_: string) => {} }
  const fetch = (path: string, init?: RequestInit) => globalThis.fetch(baseUrl + path, init)
  async function parsePropertyAsync() {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
    const { job_id } = await response.json()
    return new Promise((resolve, reject) => {
      const pollInterval = setInterval(async () => {
        const statusResponse = await fetch(`/api/tasks/status/${job_id}`)
        const status = await statusResponse.json()
        if (status.progress) {
          pixelLoader.updateProgress(status.progress)
          pixelLoader.showMessage(status.message || 'Обработка...')
        }
        if (status.status === 'finished') {
          clearInterval(pollInterval)
          resolve(status.result)
        } else if (status.status === 'failed') {
          clearInterval(pollInterval)
          reject(new Error(status.error))
        }
      }, 50)
    })
  }
  return { run: parsePropertyAsync, seen }
}

describe('the guide contract', () => {
  it('answers 202 with job_id, status queued, message and poll_url', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_id: 'abc-123-def', value: 1 }),
    })
    expect(response.status).toBe(202)
    const body = EnqueueResponseSchema.parse(await response.json())
    expect(body).toMatchObject({ status: 'queued', message: 'Task queued successfully' })
    expect(body.poll_url).toBe(`/api/tasks/status/${body.job_id}`)
  })

  it('resolves the guide snippet with the result of a finished job, with rising progress', async () => {
    const snippet = guideSnippet(service.baseUrl, '/api/tasks/echo', { session_id: 's-1', value: 'x', steps: 5 })
    const result = await snippet.run()
    expect(result).toEqual({ success: true, data: { value: 'x', parents: [] }, session_id: 's-1' })
    expect(snippet.seen.length).toBeGreaterThan(0)
    expect(snippet.seen.at(-1)).toBe(100)
    expect([...snippet.seen].sort((a, b) => a - b)).toEqual(snippet.seen)
  })

  it('rejects the guide snippet with the error of a failed job', async () => {
    const snippet = guideSnippet(service.baseUrl, '/api/tasks/fail', { session_id: 's-2', message: 'Failed to parse property: timeout' })
    await expect(snippet.run()).rejects.toThrow('Failed to parse property: timeout')
  })

  it('shows created, started and ended times as ISO-8601 with milliseconds', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_id: 's-3' }),
    })
    const { job_id } = await response.json()
    const status = StatusBodySchema.parse(await waitForStatus(service.baseUrl, job_id, ['finished']))
    for (const value of [status.created_at, status.started_at, status.ended_at]) {
      expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
    expect(status).toMatchObject({ progress: 100, attempt: 1, session_id: 's-3' })
  })

  it('keeps the error and stack of a failed job', async () => {
    const response = await fetch(`${service.baseUrl}/api/tasks/fail`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'kaput' }),
    })
    const { job_id } = await response.json()
    const status = await waitForStatus(service.baseUrl, job_id, ['failed'])
    expect(status.error).toBe('kaput')
    const row = await service.queue.monitoring.findJob(job_id)
    expect(row?.stack).toContain('Error: kaput')
  })
})
