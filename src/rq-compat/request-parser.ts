export type RequestLimits = { maxArguments: number; maxBulkBytes: number; maxRequestBytes: number }

export class ProtocolError extends Error {}

const CR = 0x0d
const LF = 0x0a
// A header line (`*123\r\n`, `$4096\r\n`) is never longer than this.
const MAX_HEADER_BYTES = 32

/**
 * Parses client requests as Redis does: RESP arrays of bulk strings, or inline commands (`PING\r\n`,
 * as typed into telnet). Every count and length is checked against its limit before anything is
 * allocated, and at most one partial request (≤ maxRequestBytes) is ever buffered.
 */
export function createRequestParser(limits: RequestLimits) {
  let buffer: Buffer = Buffer.alloc(0)
  // Progress inside a partial array request, so a request arriving in many chunks is scanned once.
  let expected = -1
  let args: Buffer[] = []
  let position = 0

  function lineEnd(from: number): number {
    const end = buffer.indexOf(LF, from)
    if (end < 0) {
      if (buffer.length - from > MAX_HEADER_BYTES) throw new ProtocolError('header line too long')
      return -1
    }
    if (end - from > MAX_HEADER_BYTES || buffer[end - 1] !== CR) throw new ProtocolError('malformed header line')
    return end
  }

  function integer(from: number, to: number, what: string): number {
    const text = buffer.toString('latin1', from, to)
    if (!/^-?\d{1,12}$/.test(text)) throw new ProtocolError(`invalid ${what}`)
    return Number(text)
  }

  /** The next complete request, or undefined when more bytes are needed. */
  function next(): Buffer[] | undefined {
    if (expected < 0) {
      if (buffer.length === 0) return undefined
      if (buffer[0] !== 0x2a) return inline()
      const end = lineEnd(0)
      if (end < 0) return undefined
      const count = integer(1, end - 1, 'multibulk length')
      if (count > limits.maxArguments) throw new ProtocolError('invalid multibulk length')
      position = end + 1
      if (count <= 0) {
        // Redis ignores empty and null arrays.
        consume()
        return next()
      }
      expected = count
      args = []
    }
    while (args.length < expected) {
      if (position >= buffer.length) return undefined
      if (buffer[position] !== 0x24) throw new ProtocolError(`expected '$', got '${String.fromCharCode(buffer[position])}'`)
      const end = lineEnd(position)
      if (end < 0) return undefined
      const length = integer(position + 1, end - 1, 'bulk length')
      if (length < 0 || length > limits.maxBulkBytes) throw new ProtocolError('invalid bulk length')
      if (buffer.length < end + 1 + length + 2) return undefined
      if (buffer[end + 1 + length] !== CR || buffer[end + 2 + length] !== LF) throw new ProtocolError('bulk string not terminated by CRLF')
      args.push(Buffer.from(buffer.subarray(end + 1, end + 1 + length)))
      position = end + 1 + length + 2
    }
    const request = args
    expected = -1
    args = []
    consume()
    return request
  }

  function inline(): Buffer[] | undefined {
    const end = buffer.indexOf(LF)
    if (end < 0) return undefined
    const line = buffer.toString('utf8', 0, end).replace(/\r$/, '')
    position = end + 1
    consume()
    const words = line.split(/[ \t]+/).filter(Boolean)
    if (words.length > limits.maxArguments) throw new ProtocolError('too many arguments')
    return words.length === 0 ? next() : words.map((word) => Buffer.from(word))
  }

  function consume() {
    buffer = buffer.subarray(position)
    position = 0
  }

  return {
    /** Feeds bytes, handing each complete request to `onRequest`; throws ProtocolError (the connection is then closed). */
    push(chunk: Buffer, onRequest: (args: Buffer[]) => void): void {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      for (let request = next(); request; request = next()) onRequest(request)
      if (buffer.length > limits.maxRequestBytes) throw new ProtocolError(`request larger than ${limits.maxRequestBytes} bytes`)
    },
    /** Bytes of a request begun but not complete. */
    pendingBytes: () => buffer.length,
  }
}
