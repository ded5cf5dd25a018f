import type { Context, MiddlewareHandler } from 'hono'
import { AppError } from '../errors.ts'

/**
 * The body of a route that takes a whole page (up to `limitBytes`, after decoding): read once, gunzipped
 * when `Content-Encoding: gzip` (or deflate), and counted as it is decoded, so a zip bomb stops at the
 * limit instead of filling memory. The decoded bytes replace the request body; the route reads it as usual.
 */
export function pageBody(limitBytes: number): MiddlewareHandler {
  return async function pageBody(c, next) {
    const declared = Number.parseInt(c.req.header('content-length') ?? '', 10)
    if (Number.isFinite(declared) && declared > limitBytes) {
      // A page a little too big is read and dropped, so the client sees the 413 instead of a reset
      // connection; a far larger one is not worth reading.
      const raw = c.req.raw.body
      if (raw && declared <= limitBytes * DRAIN_FACTOR) await drain(raw)
      return tooLarge(c, limitBytes)
    }
    const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase()
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      throw new AppError('ValidationFailed', `Content-Encoding ${encoding} is not accepted; send gzip, deflate or no encoding`, {
        details: { content_encoding: encoding, accepted: ['gzip', 'deflate', 'identity'] },
      })
    }
    // A plain body of a declared length within the limit is the route's to read as it is: Node's HTTP
    // parser ends the body at that length. Only chunked or encoded bodies are counted here.
    if (encoding === 'identity' && Number.isFinite(declared)) return next()
    const raw = c.req.raw.body
    if (!raw) return next()
    // The sent bytes are read in full first (so the client is never cut off mid-upload), then decoded
    // from memory, counting the decoded size.
    const sent = await readLimited(raw, limitBytes)
    if (sent === 'too-large') return tooLarge(c, limitBytes)
    const bytes = encoding === 'identity' ? sent : await readLimited(new Blob([sent]).stream().pipeThrough(new DecompressionStream(encoding as CompressionFormat)), limitBytes, false)
    if (bytes === 'too-large') return tooLarge(c, limitBytes)
    const headers = new Headers(c.req.raw.headers)
    headers.delete('content-encoding')
    headers.set('content-length', String(bytes.byteLength))
    c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: bytes as Uint8Array<ArrayBuffer> })
    return next()
  }
}

/** Over-limit bodies up to this multiple of the limit are drained before the 413. */
const DRAIN_FACTOR = 4

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stream.getReader()
  try {
    for (;;) if ((await reader.read()).done) return
  } catch {
    // The client gave up first: nothing to answer.
  }
}

function tooLarge(_c: Context, limitBytes: number): never {
  throw new AppError('PayloadTooLarge', 'Request body too large', { details: { limit_bytes: limitBytes } })
}

/** The stream's bytes up to the limit; past it 'too-large', after draining up to DRAIN_FACTOR × limit when `drainExcess`. */
async function readLimited(stream: ReadableStream<Uint8Array>, limitBytes: number, drainExcess = true): Promise<Uint8Array<ArrayBuffer> | 'too-large'> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limitBytes * (drainExcess ? DRAIN_FACTOR : 1)) {
        await reader.cancel().catch(() => {})
        return 'too-large'
      }
      // Past the limit the rest is only drained (see DRAIN_FACTOR), never kept.
      if (total <= limitBytes) chunks.push(value)
    }
  } catch {
    throw new AppError('ValidationFailed', 'The request body could not be decoded (corrupt gzip or deflate data?)', { details: null })
  }
  if (total > limitBytes) return 'too-large'
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
