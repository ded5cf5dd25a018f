import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorBodySchema } from '../../src/http/contract.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { echoTask } from '../helpers/tasks.ts'

/**
 * The same property as http-endpoints.test.ts, one layer down: raw HTTP/1.1 over a socket to the real
 * listening server, with the framing a well-behaved client never sends — Content-Length that lies, both
 * Content-Length and Transfer-Encoding, broken chunks, bodies cut off by EOF, oversized headers.
 * Whatever arrives, an answer is below 500 (Node's own parser may also just answer 400 or close), and the
 * server keeps serving.
 */

const ADMIN = 'wire-admin-key'
const LIMIT = 4096
const RUNS = 800
const ANSWER_DEADLINE_MS = 5_000

let service: TestService
const stats = { connections: 0, answered: 0, closedWithoutAnswer: 0, byStatus: new Map<number, number>() }
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)

beforeAll(async () => {
  process.on('unhandledRejection', onCrash)
  process.on('uncaughtException', onCrash)
  service = await startTestService({
    tasks: [echoTask],
    worker: false,
    env: { ADMIN_API_KEYS: ADMIN, BODY_LIMIT_BYTES: String(LIMIT), RATE_LIMIT_PER_MINUTE: '0' },
  })
})

afterAll(async () => {
  process.off('unhandledRejection', onCrash)
  process.off('uncaughtException', onCrash)
  await service?.close()
  const statuses = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')
  console.log(`HTTP wire fuzz: ${stats.connections} raw requests, ${stats.answered} answered (${statuses}), ${stats.closedWithoutAnswer} closed without an answer; 5xx: ${[...stats.byStatus.keys()].filter((s) => s >= 500).length}`)
})

/** Writes the bytes, half-closes, and reads until the server closes or the deadline passes. */
function exchange(bytes: Buffer): Promise<{ raw: string; timedOut: boolean }> {
  const { port } = new URL(service.baseUrl)
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), timedOut: true })
    }, ANSWER_DEADLINE_MS)
    socket.on('connect', () => {
      socket.write(bytes)
      socket.end()
    })
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), timedOut: false })
    })
  })
}

type Framing = 'exact' | 'short' | 'long' | 'none' | 'garbage-length' | 'negative' | 'double' | 'chunked' | 'chunked-broken' | 'chunked-and-length'

function frame(body: Buffer, framing: Framing, cut: number): { headers: string[]; payload: Buffer } {
  const chunked = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n\r\n')])
  switch (framing) {
    case 'exact':
      return { headers: [`Content-Length: ${body.length}`], payload: body }
    case 'short': // the body is cut off by EOF before Content-Length bytes arrived
      return { headers: [`Content-Length: ${body.length + 1 + cut}`], payload: body }
    case 'long': // more bytes than declared: the rest is a second, garbage request
      return { headers: [`Content-Length: ${Math.min(cut, body.length)}`], payload: body }
    case 'none':
      return { headers: [], payload: body }
    case 'garbage-length':
      return { headers: ['Content-Length: 12abc'], payload: body }
    case 'negative':
      return { headers: ['Content-Length: -1'], payload: body }
    case 'double':
      return { headers: [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`], payload: body }
    case 'chunked':
      return { headers: ['Transfer-Encoding: chunked'], payload: chunked(body) }
    case 'chunked-broken':
      return { headers: ['Transfer-Encoding: chunked'], payload: chunked(body).subarray(0, Math.min(cut, body.length + 4)) }
    case 'chunked-and-length':
      return { headers: ['Transfer-Encoding: chunked', `Content-Length: ${body.length}`], payload: chunked(body) }
  }
}

const PATHS = ['/api/tasks/echo', '/api/tasks/nope', '/api/tasks/2f0e4a8b-1234-4678-9abc-def012345678/cancel', '/dashboard/api/requeue-failed', '/api/tasks/status/x', '/healthz', '/', '/%00', '/api/tasks/echo?x=%zz']

const rawRequest = fc
  .record({
    method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
    path: fc.oneof({ arbitrary: fc.constant('/api/tasks/echo'), weight: 4 }, fc.constantFrom(...PATHS)),
    framing: fc.oneof(
      { arbitrary: fc.constantFrom<Framing>('exact', 'chunked'), weight: 3 },
      { arbitrary: fc.constantFrom<Framing>('short', 'long', 'none', 'garbage-length', 'negative', 'double', 'chunked-broken', 'chunked-and-length'), weight: 4 },
    ),
    cut: fc.nat({ max: 200 }),
    body: fc.oneof(
      { arbitrary: fc.constantFrom('{}', '{"value":1}', '{"session_id":"s","steps":1}', '{"value":"é"}'), weight: 3 },
      fc.constantFrom('{', '[]', 'x'.repeat(LIMIT + 10)),
      fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? ''),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    ),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', ''),
    auth: fc.constantFrom(`Authorization: Bearer ${ADMIN}`, `Authorization: Bearer ${ADMIN}`, `X-API-Key: ${ADMIN}`, 'Authorization: Bearer nope', ''),
    extra: fc.array(
      fc.constantFrom('Expect: 100-continue', 'Accept: */*', 'Accept: */*', 'X-Housler-Dashboard: 1', `X-Big: ${'b'.repeat(20_000)}`, 'Content-Encoding: gzip', 'Connection: keep-alive', 'Idempotency-Key: k1', 'Host: evil.example'),
      { maxLength: 3 },
    ),
  })
  .map((r) => {
    const { headers, payload } = frame(Buffer.from(r.body, 'latin1'), r.framing, r.cut)
    const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers, ...r.extra]
    if (r.contentType) lines.push(`Content-Type: ${r.contentType}`)
    if (r.auth) lines.push(r.auth)
    return { summary: { ...r, body: r.body.slice(0, 80), extra: r.extra.map((e) => e.slice(0, 40)) }, bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]) }
  })

describe('raw HTTP/1.1 framing', () => {
  it('never gets a 5xx, never hangs, and the server keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(rawRequest, async ({ summary, bytes }) => {
        stats.connections++
        const { raw, timedOut } = await exchange(bytes)
        if (timedOut) throw new Error(`no answer or close within ${ANSWER_DEADLINE_MS} ms: ${JSON.stringify(summary)}`)
        // Several answers can come back (a lying Content-Length leaves a second request behind): check each.
        const statusLines = [...raw.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)]
        if (statusLines.length === 0) {
          stats.closedWithoutAnswer++
          return
        }
        stats.answered++
        for (const [, status, head] of statusLines) {
          const code = Number(status)
          stats.byStatus.set(code, (stats.byStatus.get(code) ?? 0) + 1)
          if (code >= 500) throw new Error(`${code} for ${JSON.stringify(summary)}:\n${raw.slice(0, 600)}`)
          if (code >= 400 && /content-type: application\/json/i.test(head) && summary.method !== 'HEAD') {
            const body = raw.slice(raw.indexOf('\r\n\r\n', raw.indexOf(`HTTP/1.1 ${status}`)) + 4)
            const json = /^\{.*?\}(?=HTTP\/1\.1|$)/s.exec(body)?.[0]
            if (json) expect(ErrorBodySchema.safeParse(JSON.parse(json)).success, json).toBe(true)
          }
        }
      }),
      { numRuns: RUNS },
    )
    const health = await fetch(`${service.baseUrl}/healthz`)
    expect(health.status).toBe(200)
    expect(crashes).toEqual([])
  }, 120_000)
})
