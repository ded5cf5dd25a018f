import type { Context, MiddlewareHandler } from 'hono'
import { AppError } from '../errors.ts'
import { errorBody } from './app.ts'

/**
 * The body of a route that takes a whole page (up to `limitBytes`, after decoding): read once, gunzipped
 * when `Content-Encoding: gzip` (or deflate), and counted as it is decoded, so a zip bomb stops at the
 * limit instead of filling memory. The decoded bytes replace the request body; the route reads it as usual.
 */
export function pageBody(limitBytes: number): MiddlewareHandler {
  return async function pageBody(c, next) {
    const declared = Number.parseInt(c.req.header('content-length') ?? '', 10)
    if (Number.isFinite(declared) && declared > limitBytes) return tooLarge(c, limitBytes)
    const raw = c.req.raw.body
    if (!raw) return next()
    const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase()
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      throw new AppError('ValidationFailed', `Content-Encoding ${encoding} is not accepted; send gzip, deflate or no encoding`, {
        details: { content_encoding: encoding, accepted: ['gzip', 'deflate', 'identity'] },
      })
    }
    const stream = encoding === 'identity' ? raw : raw.pipeThrough(new DecompressionStream(encoding as CompressionFormat))
    const bytes = await readLimited(stream, limitBytes)
    if (bytes === 'too-large') return tooLarge(c, limitBytes)
    const headers = new Headers(c.req.raw.headers)
    headers.delete('content-encoding')
    headers.set('content-length', String(bytes.byteLength))
    c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: bytes as Uint8Array<ArrayBuffer> })
    return next()
  }
}

function tooLarge(c: Context, limitBytes: number) {
  return c.json(errorBody('Request body too large', { limit_bytes: limitBytes, code: 'PayloadTooLarge' }), 413)
}

async function readLimited(stream: ReadableStream<Uint8Array>, limitBytes: number): Promise<Uint8Array<ArrayBuffer> | 'too-large'> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limitBytes) {
        await reader.cancel().catch(() => {})
        return 'too-large'
      }
      chunks.push(value)
    }
  } catch {
    throw new AppError('ValidationFailed', 'The request body could not be decoded (corrupt gzip or deflate data?)', { details: null })
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
