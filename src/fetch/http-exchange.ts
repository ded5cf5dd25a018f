import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { LookupFunction, Socket } from 'node:net'
import type { Transform } from 'node:stream'
import zlib from 'node:zlib'
import { AppError, coerceError } from '../errors.ts'
import type { CreateConnection } from './proxy-tunnel.ts'

export type ExchangeRequest = {
  url: URL
  method: 'GET' | 'POST' | 'HEAD'
  headers: Readonly<Record<string, string>>
  body?: Buffer
  /** Vets each resolved address before the socket connects; undefined means a trusted operator target. */
  lookup?: LookupFunction
  /** Opens the connection itself (a proxy tunnel); it does its own address check. */
  createConnection?: CreateConnection
  connectTimeoutMs: number
  /** Covers the whole exchange: lookup, connect, headers and body. */
  timeoutMs: number
  /** Applies to the bytes on the wire and, separately, to the decompressed bytes. */
  maxBytes: number
  /** Past maxBytes: 'fail' throws FetchFailed, 'truncate' keeps the first maxBytes and hangs up. */
  overflow: 'fail' | 'truncate'
  /** Statuses whose body is read; for the others the connection is dropped once the headers arrive. */
  readsBody(status: number): boolean
  signal?: AbortSignal
}

export type ExchangeResponse = { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** The abort reason as thrown to the caller: the job's own reason, or JobCanceled when it gave none. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AppError('JobCanceled', 'Fetch aborted')
}

export function fetchFailed(message: string, details: Record<string, unknown>, cause?: unknown): AppError {
  return new AppError('FetchFailed', message, { cause, details: { status: null, retryable: false, ...details } })
}

function networkError(error: unknown): AppError {
  const err = coerceError(error)
  if (err instanceof AppError) return err
  const code = (err as Error & { code?: unknown }).code
  return fetchFailed(`Network error: ${err.message}`, { retryable: true, code }, err)
}

const DECOMPRESSORS: Readonly<Record<string, () => Transform>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
}

/** One HTTP request and its response, with every limit enforced; no retries, no redirects. */
export function exchange(request: ExchangeRequest): Promise<ExchangeResponse> {
  const { signal, maxBytes } = request
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  const tooLarge = (what: string) =>
    fetchFailed(`Response ${what} exceeds ${maxBytes} bytes`, { reason: 'too-large', limitBytes: maxBytes })

  return new Promise((resolve, reject) => {
    const timers: NodeJS.Timeout[] = []
    let done = false
    let response: IncomingMessage | undefined
    let decompressor: Transform | undefined

    // Loaded at the first request: node:http alone is ~14 MB of an idle worker's RSS (bench/RESULTS.md).
    const client = process.getBuiltinModule(request.url.protocol === 'https:' ? 'node:https' : 'node:http')
    const req = client.request(request.url, {
      method: request.method,
      headers: request.headers,
      // A fresh socket per request: a pooled one could have been vetted for another host.
      ...(request.createConnection
        ? { createConnection: request.createConnection }
        : { agent: false, ...(request.lookup ? { lookup: request.lookup } : {}) }),
    })

    const onAbort = () => settle(abortReason(signal!))
    function settle(error: Error | undefined, result?: ExchangeResponse): void {
      if (done) return
      done = true
      for (const timer of timers) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      decompressor?.destroy()
      response?.destroy()
      req.destroy()
      if (error) reject(error)
      else resolve(result!)
    }

    signal?.addEventListener('abort', onAbort, { once: true })
    timers.push(
      setTimeout(
        () => settle(fetchFailed(`Timed out after ${request.timeoutMs} ms`, { retryable: true, reason: 'timeout' })),
        request.timeoutMs,
      ),
    )
    req.once('socket', (socket: Socket) => {
      if (!socket.connecting) return
      const timer = setTimeout(
        () =>
          settle(
            fetchFailed(`Could not connect within ${request.connectTimeoutMs} ms`, {
              retryable: true,
              reason: 'connect-timeout',
            }),
          ),
        request.connectTimeoutMs,
      )
      timers.push(timer)
      socket.once('connect', () => clearTimeout(timer))
    })
    req.on('error', (error) => settle(networkError(error)))

    req.on('response', (res) => {
      response = res
      const status = res.statusCode ?? 0
      const complete = () => settle(undefined, { status, headers: res.headers, body: Buffer.concat(chunks) })
      const chunks: Buffer[] = []
      if (!request.readsBody(status)) return complete()

      const declaredBytes = Number(res.headers['content-length'])
      if (request.overflow === 'fail' && declaredBytes > maxBytes) return settle(tooLarge('Content-Length'))

      const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
      const createDecompressor = Object.hasOwn(DECOMPRESSORS, encoding) ? DECOMPRESSORS[encoding] : undefined
      if (!createDecompressor && encoding !== 'identity' && encoding !== '') {
        return settle(fetchFailed(`Unsupported Content-Encoding ${encoding}`, { status, reason: 'encoding' }))
      }

      let bodyBytes = 0
      const take = (chunk: Buffer) => {
        if (done) return
        if (bodyBytes + chunk.length > maxBytes) {
          if (request.overflow === 'fail') return settle(tooLarge(createDecompressor ? 'decompressed body' : 'body'))
          chunks.push(chunk.subarray(0, maxBytes - bodyBytes))
          return complete()
        }
        bodyBytes += chunk.length
        chunks.push(chunk)
      }

      res.on('error', (error) => settle(networkError(error)))
      res.on('close', () => {
        if (!res.complete) settle(networkError(new Error('connection closed before the body ended')))
      })

      if (!createDecompressor) {
        res.on('data', take)
        res.on('end', complete)
        return
      }
      // Decompressing ourselves lets the cap count output bytes, so a small gzip bomb stops at maxBytes.
      const inflater = createDecompressor()
      decompressor = inflater
      let wireBytes = 0
      res.on('data', (chunk: Buffer) => {
        wireBytes += chunk.length
        if (wireBytes > maxBytes) {
          return request.overflow === 'fail' ? settle(tooLarge('body')) : complete()
        }
        if (!inflater.write(chunk)) {
          res.pause()
          inflater.once('drain', () => res.resume())
        }
      })
      res.on('end', () => inflater.end())
      inflater.on('data', take)
      inflater.on('end', complete)
      inflater.on('error', (error) =>
        settle(fetchFailed(`Corrupt ${encoding} body: ${error.message}`, { status, reason: 'encoding' }, error)),
      )
    })

    req.end(request.body)
  })
}
