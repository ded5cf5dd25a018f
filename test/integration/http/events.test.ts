import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask } from '../../../src/tasks/types.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'

/** Each step waits until the test lets it go, so the test decides the pace and nothing is coalesced away. */
const allowed = new Map<string, number>()
const stepWaiters: Array<() => void> = []
function allow(jobId: string, step: number) {
  allowed.set(jobId, step)
  for (const wake of stepWaiters.splice(0)) wake()
}
const stepperTask = defineTask({
  kind: 'stepper',
  payload: z.object({ steps: z.number().int().min(1).max(10) }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    // Step steps+1 only lets the job finish: a push shows the job's state when it is read, so the
    // last progress step must last until the client has seen it.
    for (let step = 1; step <= payload.steps + 1; step++) {
      while ((allowed.get(ctx.jobId) ?? 0) < step) {
        if (ctx.signal.aborted) throw ctx.signal.reason
        await new Promise<void>((resolve) => stepWaiters.push(resolve))
      }
      if (step <= payload.steps) await ctx.progress(step * 10, `Шаг ${step}`)
    }
    return { steps: payload.steps }
  },
})

type SseEvent = { event: string; data: any }

/** A minimal SSE client over fetch: collects events, lets the test await a condition on them. */
function openSse(url: string) {
  const events: SseEvent[] = []
  const listeners: Array<() => void> = []
  const controller = new AbortController()
  const done = (async () => {
    const response = await fetch(url, { signal: controller.signal })
    if (response.status !== 200) {
      events.push({ event: 'http-error', data: { status: response.status, body: await response.json() } })
      return
    }
    const decoder = new TextDecoder()
    let buffer = ''
    const reader = response.body!.getReader()
    for (;;) {
      const { value, done: ended } = await reader.read()
      if (ended) break
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const lines = frame.split('\n')
        const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim()
        const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n')
        if (event) events.push({ event, data: JSON.parse(data) })
        for (const wake of listeners.splice(0)) wake()
      }
    }
  })().finally(() => {
    for (const wake of listeners.splice(0)) wake()
  })
  done.catch(() => {})
  return {
    events,
    done,
    close: () => controller.abort(),
    async until(predicate: (events: SseEvent[]) => boolean, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      while (!predicate(events)) {
        if (Date.now() > deadline) throw new Error(`SSE condition not met; events: ${JSON.stringify(events.map((e) => [e.data.status, e.data.progress]))}`)
        await new Promise<void>((resolve) => {
          listeners.push(resolve)
          setTimeout(resolve, 100)
        })
      }
    },
  }
}

describe('push status over SSE', () => {
  let service: TestService
  const enqueue = async (steps: number) =>
    (await (await fetch(`${service.baseUrl}/api/tasks/stepper`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ steps }) })).json()).job_id as string

  beforeAll(async () => {
    service = await startTestService({ tasks: [stepperTask], worker: { concurrency: 4 }, env: { RATE_LIMIT_PER_MINUTE: '0' } })
  })
  afterAll(async () => service?.close())

  it('streams the current status, every progress step in order, and ends after the final status', async () => {
    const jobId = await enqueue(4)
    const client = openSse(`${service.baseUrl}/api/tasks/status/${jobId}/events`)
    await client.until((events) => events.length >= 1)
    expect(client.events[0].event).toBe('status')
    expect(['queued', 'started']).toContain(client.events[0].data.status)
    for (let step = 1; step <= 4; step++) {
      allow(jobId, step)
      await client.until((events) => events.some((e) => e.data.progress === step * 10))
    }
    allow(jobId, 5)
    await client.done
    const progress = client.events.filter((e) => e.data.status === 'started').map((e) => e.data.progress)
    expect(progress.filter((p) => p > 0)).toEqual([10, 20, 30, 40])
    const last = client.events.at(-1)!
    expect(last.data).toMatchObject({ job_id: jobId, status: 'finished', progress: 100, result: { steps: 4 } })
    expect(client.events.every((e) => e.event === 'status')).toBe(true)
  })

  it('answers 404 JSON for an unknown job and 400 for a bad id', async () => {
    const unknown = await fetch(`${service.baseUrl}/api/tasks/status/00000000-0000-4000-8000-000000000000/events`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toHaveProperty('error')
    expect((await fetch(`${service.baseUrl}/api/tasks/status/nope/events`)).status).toBe(400)
  })

  it('300 clients on 3 jobs cost one status read per notification per job, not per client', async () => {
    const jobIds = [await enqueue(3), await enqueue(3), await enqueue(3)]
    // Count what the database is asked: every status read goes through queue.getStatus.
    const reads = new Map<string, number>()
    const original = service.queue.getStatus
    service.queue.getStatus = (jobId: string) => {
      reads.set(jobId, (reads.get(jobId) ?? 0) + 1)
      return original(jobId)
    }
    // And what the database announces: our own LISTEN on housler_status.
    const notifications = new Map<string, number>()
    const listener = new pg.Client({ connectionString: service.databaseUrl })
    await listener.connect()
    listener.on('notification', (message) => {
      notifications.set(message.payload!, (notifications.get(message.payload!) ?? 0) + 1)
    })
    await listener.query('LISTEN housler_status')
    try {
      const clients = Array.from({ length: 300 }, (_, i) => openSse(`${service.baseUrl}/api/tasks/status/${jobIds[i % 3]}/events`))
      await Promise.all(clients.map((client) => client.until((events) => events.length >= 1, 30_000)))
      for (let step = 1; step <= 3; step++) {
        for (const jobId of jobIds) allow(jobId, step)
        await Promise.all(clients.map((client) => client.until((events) => events.some((e) => e.data.progress === step * 10), 30_000)))
      }
      for (const jobId of jobIds) allow(jobId, 4)
      await Promise.all(clients.map((client) => client.done))
      for (const client of clients) expect(client.events.at(-1)!.data.status).toBe('finished')

      for (const jobId of jobIds) {
        const readCount = reads.get(jobId) ?? 0
        const notified = notifications.get(jobId) ?? 0
        // One initial read per job (later clients get the cached body) + at most one per notification.
        expect(readCount, `reads of ${jobId}`).toBeLessThanOrEqual(notified + 1)
        expect(readCount).toBeGreaterThan(0)
        expect(readCount).toBeLessThan(20)
      }
    } finally {
      service.queue.getStatus = original
      await listener.end()
    }
  }, 60_000)
})
