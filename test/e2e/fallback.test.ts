import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeEmbeddedData, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/index.ts'
import { createSilentLogger } from '../../src/log.ts'
import { freePort, until } from '../helpers/processes.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { echoTask } from '../helpers/tasks.ts'

// This file owns a Postgres of its own, so it can stop it without disturbing other test files.
const dir = `.data/test-fallback-${process.pid}`
let port: number
let database: EmbeddedServer
let withFallback: TestService
let without: TestService


async function post(service: TestService, body: object) {
  return fetch(`${service.baseUrl}/api/tasks/echo`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
}

beforeAll(async () => {
  port = await freePort()
  database = await startEmbeddedPostgres({ dir, port, log: createSilentLogger() })
  withFallback = await startTestService({ tasks: [echoTask], databaseUrl: database.url, worker: false })
  without = await startTestService({ tasks: [echoTask], databaseUrl: database.url, worker: false, env: { SYNC_FALLBACK: 'false' } })
}, 60_000)

afterAll(async () => {
  await withFallback?.close().catch(() => {})
  await without?.close().catch(() => {})
  await database?.stop().catch(() => {})
  await removeEmbeddedData(database?.dataDir ?? dir)
})

describe('with the database stopped', () => {
  it('runs the task inline (SYNC_FALLBACK=true), answers 503 (false), and recovers when it is back', async () => {
    expect((await post(withFallback, { value: 'before' })).status).toBe(202)
    await database.stop()

    const inline = await post(withFallback, { session_id: 'offline', value: 42, steps: 2 })
    expect(inline.status).toBe(200)
    const body = await inline.json()
    expect(body).toMatchObject({ status: 'finished', fallback: true, progress: 100, result: { success: true, data: { value: 42 } } })
    // The guide's poller still finds it.
    const polled = await (await fetch(`${withFallback.baseUrl}${body.poll_url}`)).json()
    expect(polled.status).toBe('finished')

    const refused = await post(without, { value: 1 })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: expect.stringMatching(/unreachable/), details: { fallback: false } })
    const ready = await fetch(`${without.baseUrl}/readyz`)
    expect(ready.status).toBe(503)
    const status = await fetch(`${without.baseUrl}/api/tasks/status/2f0e4a8b-1234-4678-9abc-def012345678`)
    expect(status.status).toBe(503)

    database = await startEmbeddedPostgres({ dir, port, log: createSilentLogger() })
    let recovered = 0
    await until('an enqueue to be accepted again', async () => {
      recovered = (await post(without, { value: 'after' })).status
      return recovered === 202 ? true : undefined
    }, 20_000, 200).catch(() => undefined)
    expect(recovered).toBe(202)
    expect((await fetch(`${without.baseUrl}/readyz`)).status).toBe(200)
  }, 60_000)
})
