import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { echoTask, failTask } from '../../helpers/tasks.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const SECRET = 'test-webhook-secret'
type Received = { headers: IncomingHttpHeaders; body: string; answered: number }

/** A local receiver: answers from a script (default 200), records every request. */
async function startReceiver(script: number[] = []) {
  const received: Received[] = []
  const waiters: Array<() => void> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const answered = script.shift() ?? 200
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered })
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try later')
      for (const wake of waiters.splice(0)) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async waitFor(count: number, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} of ${count} requests`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 200)
        })
      }
      return received
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The verification snippet exactly as the README shows it, imported as a module. */
async function importDocSnippet(): Promise<(secret: string, headers: IncomingHttpHeaders, body: string) => boolean> {
  const doc = await readFile(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8')
  const block = /<!-- verify-snippet:start -->\s*```js\n([\s\S]*?)```\s*<!-- verify-snippet:end -->/.exec(doc)
  if (!block) throw new Error('README.md lost its webhook verification snippet')
  const folder = await mkdtemp(path.join(os.tmpdir(), 'housler-snippet-'))
  const file = path.join(folder, 'verify.mjs')
  await writeFile(file, block[1])
  try {
    return (await import(pathToFileURL(file).href)).verifyHouslerWebhook
  } finally {
    // Imported modules stay loaded: the file is not needed once the import has returned.
    await rm(folder, { recursive: true, force: true })
  }
}

const enqueue = (service: TestService, kind: string, body: unknown) =>
  fetch(`${service.baseUrl}/api/tasks/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

async function waitForWebhook(service: TestService, jobId: string, done: (webhook: any) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  let last: any
  while (Date.now() < deadline) {
    last = await (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
    if (last.webhook && done(last.webhook)) return last
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`webhook of ${jobId} did not settle: ${JSON.stringify(last)}`)
}

describe('signed, durable webhooks', () => {
  let service: TestService
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let stranger: Awaited<ReturnType<typeof startReceiver>>
  let verify: Awaited<ReturnType<typeof importDocSnippet>>

  beforeAll(async () => {
    receiver = await startReceiver([500])
    stranger = await startReceiver()
    verify = await importDocSnippet()
    service = await startTestService({
      tasks: [echoTask, failTask],
      env: {
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_ALLOWLIST: `127.0.0.1:${receiver.port}`,
        WEBHOOK_RETRY_BASE_MS: '200',
        WEBHOOK_POLL_INTERVAL_MS: '100',
        RATE_LIMIT_PER_MINUTE: '0',
      },
    })
  })
  afterAll(async () => {
    await service?.close()
    await receiver?.close()
    await stranger?.close()
  })

  it('POSTs the documented event, signed, and sends it again after a 500', async () => {
    const response = await enqueue(service, 'echo', { session_id: 's-1', value: 42, webhook_url: receiver.url })
    expect(response.status).toBe(202)
    const { job_id } = await response.json()
    const [first, second] = await receiver.waitFor(2)

    expect(first.answered).toBe(500)
    expect(second.answered).toBe(200)
    // At-least-once with a stable id and body: the retry is the same event.
    expect(second.headers['x-housler-event-id']).toBe(first.headers['x-housler-event-id'])
    expect(second.body).toBe(first.body)
    for (const request of [first, second]) {
      expect(request.headers['content-type']).toBe('application/json')
      expect(request.headers['x-housler-signature']).toMatch(/^v1=[0-9a-f]{64}$/)
      expect(verify(SECRET, request.headers, request.body)).toBe(true)
      expect(verify('wrong-secret', request.headers, request.body)).toBe(false)
      expect(verify(SECRET, request.headers, request.body.replace('42', '43'))).toBe(false)
    }
    const event = JSON.parse(second.body)
    expect(Object.keys(event).sort()).toEqual(['event', 'job_id', 'kind', 'occurred_at', 'result', 'session_id', 'status'])
    expect(event).toMatchObject({ event: 'finished', job_id, kind: 'echo', status: 'finished', session_id: 's-1' })
    expect(event.result).toEqual({ success: true, data: { value: 42, parents: [] }, session_id: 's-1' })
    expect(Number.isNaN(Date.parse(event.occurred_at))).toBe(false)

    const status = await waitForWebhook(service, job_id, (webhook) => webhook.delivered)
    expect(status.webhook).toMatchObject({
      url: receiver.url,
      events: ['finished', 'failed'],
      delivered: true,
      attempts: 2,
      last_status: 200,
      last_error: null,
      event_id: second.headers['x-housler-event-id'],
    })
  })

  it('sends failed events with the error, and only the events asked for', async () => {
    const before = receiver.received.length
    const quiet = await (await enqueue(service, 'echo', { value: 1, webhook_url: receiver.url, webhook_events: ['failed'] })).json()
    const failing = await (await enqueue(service, 'fail', { message: 'kaput', webhook_url: receiver.url })).json()
    await waitForStatus(service.baseUrl, quiet.job_id, ['finished'])
    const status = await waitForWebhook(service, failing.job_id, (webhook) => webhook.delivered)
    expect(status.webhook.attempts).toBe(1)
    const events = receiver.received.slice(before).map((request) => JSON.parse(request.body))
    expect(events).toEqual([
      expect.objectContaining({ event: 'failed', status: 'failed', job_id: failing.job_id, error: 'kaput', session_id: null }),
    ])
    expect(events[0]).not.toHaveProperty('result')
    // The finished echo job subscribed to failures only: no event row, nothing sent.
    const quietStatus = await (await fetch(`${service.baseUrl}/api/tasks/status/${quiet.job_id}`)).json()
    expect(quietStatus.webhook).toEqual({ url: receiver.url, events: ['failed'], delivered: false, attempts: 0, last_status: null, last_error: null })
  })

  it('refuses private, loopback and metadata targets at enqueue, and never sends to them', async () => {
    for (const url of [stranger.url, 'http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'http://localhost:9/x', 'ftp://example.com/x']) {
      const response = await enqueue(service, 'echo', { value: 1, webhook_url: url })
      expect(response.status, url).toBe(400)
      const body = await response.json()
      expect(body).toHaveProperty('error')
      expect(body).toHaveProperty('details')
    }
    // Past the enqueue check (as if the allowlist changed after): refused again at send time, given up, never sent.
    const jobId = (await service.queue.enqueue({ kind: 'echo', payload: { value: 1 }, webhook: { url: stranger.url, events: ['finished'] } })).jobId
    const status = await waitForWebhook(service, jobId, (webhook) => webhook.gave_up === true)
    expect(status.webhook.delivered).toBe(false)
    expect(status.webhook.last_error).toMatch(/not public|local|forbidden|loopback/i)
    expect(stranger.received).toHaveLength(0)
  })

  it('writes the event in the transaction that ends the job, whoever ends it', async () => {
    const { job_id } = await (await enqueue(service, 'echo', { value: 1, webhook_url: receiver.url, webhook_events: ['canceled'], enqueue_in: 3600 })).json()
    const cancel = await fetch(`${service.baseUrl}/api/tasks/${job_id}/cancel`, { method: 'POST' })
    expect(cancel.status).toBe(200)
    const status = await waitForWebhook(service, job_id, (webhook) => webhook.delivered)
    const event = JSON.parse(receiver.received.at(-1)!.body)
    expect(event).toMatchObject({ event: 'canceled', job_id, error: 'Canceled by request' })
    expect(status.webhook.events).toEqual(['canceled'])
  })

  it('refuses webhook_url without WEBHOOK_SECRET and bad webhook_events', async () => {
    const bad = await enqueue(service, 'echo', { value: 1, webhook_url: receiver.url, webhook_events: ['exploded'] })
    expect(bad.status).toBe(400)
    const unsigned = await startTestService({ tasks: [echoTask], worker: false, env: { WEBHOOK_ALLOWLIST: `127.0.0.1:${receiver.port}` } })
    try {
      const response = await enqueue(unsigned, 'echo', { value: 1, webhook_url: receiver.url })
      expect(response.status).toBe(400)
      expect((await response.json()).error).toMatch(/WEBHOOK_SECRET/)
    } finally {
      await unsigned.close()
    }
  })
})
