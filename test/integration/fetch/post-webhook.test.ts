import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { createFetcher, type FetchConfig } from '../../../src/fetch/index.ts'
import { createTestResolver, startServer, type TestServer } from './test-servers.ts'

let receiver: TestServer
let canary: TestServer

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers })
  res.end(body)
}

beforeAll(async () => {
  canary = await startServer((_req, res) => answer(res, 200, 'canary reached'))
  receiver = await startServer((_req, res, seen) => {
    const hits = receiver.hits(seen.path)
    switch (seen.path) {
      case '/hook':
        return answer(res, 200, 'ok')
      case '/redirect':
        return answer(res, 302, '', { location: `http://127.0.0.1:${canary.port}/` })
      case '/flaky':
        return hits <= 2 ? answer(res, 502, 'bad gateway') : answer(res, 204, '')
      case '/gone':
        return answer(res, 410, 'no such hook')
      case '/chatty':
        return answer(res, 200, 'x'.repeat(100_000))
      default:
        return answer(res, 500, 'unexpected')
    }
  })
})

afterAll(async () => {
  await Promise.all([receiver?.close(), canary?.close()])
})

function testFetcher(overrides: Partial<FetchConfig> = {}, resolveHost = createTestResolver()) {
  return createFetcher(
    {
      listingHosts: [],
      fetchRewrite: new Map(),
      fetchTimeoutMs: 3000,
      fetchConnectTimeoutMs: 1000,
      fetchMaxBytes: 1024 * 1024,
      fetchRetries: 2,
      webhookAllowlist: [`127.0.0.1:${receiver.port}`],
      ...overrides,
    },
    { resolveHost, retryBaseDelayMs: 5 },
  )
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`)
  return error
}

describe('postWebhook', () => {
  it('delivers to an allowlisted loopback receiver', async () => {
    const body = JSON.stringify({ job_id: 'j1', status: 'finished' })
    const result = await testFetcher().postWebhook(`http://127.0.0.1:${receiver.port}/hook`, body, {
      'x-housler-signature': 'sha256=abc',
    })
    expect(result).toEqual({ status: 200, bodySnippet: 'ok' })
    const seen = receiver.requests.at(-1)!
    expect(seen).toMatchObject({ method: 'POST', path: '/hook', body })
    expect(seen.headers).toMatchObject({
      'content-type': 'application/json',
      'x-housler-signature': 'sha256=abc',
      'content-length': String(Buffer.byteLength(body)),
    })
  })

  it('accepts an allowlist entry written as an origin', async () => {
    const fetcher = testFetcher({ webhookAllowlist: [receiver.origin] })
    expect((await fetcher.postWebhook(`${receiver.origin}/hook`, '{}')).status).toBe(200)
  })

  it('refuses a loopback receiver that is not allowlisted, before connecting', async () => {
    const before = receiver.requests.length
    const fetcher = testFetcher({ webhookAllowlist: [] })
    for (const url of [
      `http://127.0.0.1:${receiver.port}/hook`,
      `http://2130706433:${receiver.port}/hook`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/hook`,
      `http://localhost:${receiver.port}/hook`,
    ]) {
      const error = await failure(fetcher.postWebhook(url, '{}'))
      expect(error.code, url).toBe('UrlRejected')
    }
    expect(receiver.requests.length).toBe(before)
  })

  it('refuses at send time a host name that resolves to loopback', async () => {
    const before = receiver.requests.length
    const resolver = createTestResolver()
    const error = await failure(
      testFetcher({}, resolver).postWebhook(`http://hooks.example.com:${receiver.port}/hook`, '{}'),
    )
    expect(error.details).toMatchObject({ reason: 'forbidden-address', address: '127.0.0.1' })
    expect(resolver.calls).toEqual(['hooks.example.com'])
    expect(receiver.requests.length).toBe(before)
  })

  it('treats a 302 as a failure and does not follow it', async () => {
    const error = await failure(testFetcher().postWebhook(`http://127.0.0.1:${receiver.port}/redirect`, '{}'))
    expect(error.code).toBe('FetchFailed')
    expect(error.details).toMatchObject({ status: 302, retryable: false, reason: 'redirect-not-followed' })
    expect(receiver.hits('/redirect')).toBe(1)
    expect(canary.requests).toHaveLength(0)
  })

  it('retries 5xx answers', async () => {
    expect(await testFetcher().postWebhook(`http://127.0.0.1:${receiver.port}/flaky`, '{}')).toEqual({
      status: 204,
      bodySnippet: '',
    })
    expect(receiver.hits('/flaky')).toBe(3)
  })

  it('fails a 4xx answer once, with the start of its body', async () => {
    const error = await failure(testFetcher().postWebhook(`http://127.0.0.1:${receiver.port}/gone`, '{}'))
    expect(error.details).toMatchObject({ status: 410, retryable: false, bodySnippet: 'no such hook' })
    expect(receiver.hits('/gone')).toBe(1)
  })

  it('keeps only the first kilobyte of a long answer', async () => {
    const result = await testFetcher().postWebhook(`http://127.0.0.1:${receiver.port}/chatty`, '{}')
    expect(result.bodySnippet).toBe('x'.repeat(1024))
  })

  it('gives up on abort without another attempt', async () => {
    const error = await testFetcher()
      .postWebhook(`http://127.0.0.1:${receiver.port}/hook`, '{}', {}, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)
    expect((error as Error).name).toBe('AbortError')
  })
})
