/** A RESP2 simple-string reply (`+OK`). */
export class Status {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** A RESP2 error reply; `text` starts with its code word (ERR, NOAUTH, NOPERM, …). */
export class RespError extends Error {}

export type Reply = Status | RespError | number | string | Buffer | null | Reply[]

export const OK = new Status('OK')

const CRLF = '\r\n'

/** Encodes one reply; strings go out as bulk strings (RQ and redis-cli read text and bytes alike). */
export function encodeReply(reply: Reply): Buffer {
  const parts: Buffer[] = []
  const add = (reply: Reply) => {
    if (reply === null) return void parts.push(Buffer.from(`$-1${CRLF}`))
    if (reply instanceof Status) return void parts.push(Buffer.from(`+${oneLine(reply.text)}${CRLF}`))
    if (reply instanceof RespError) return void parts.push(Buffer.from(`-${oneLine(reply.message)}${CRLF}`))
    if (typeof reply === 'number') return void parts.push(Buffer.from(`:${Math.trunc(reply)}${CRLF}`))
    if (Array.isArray(reply)) {
      parts.push(Buffer.from(`*${reply.length}${CRLF}`))
      for (const item of reply) add(item)
      return
    }
    const body = typeof reply === 'string' ? Buffer.from(reply, 'utf8') : reply
    parts.push(Buffer.from(`$${body.length}${CRLF}`), body, Buffer.from(CRLF))
  }
  add(reply)
  return Buffer.concat(parts)
}

// Simple strings and errors cannot hold CR or LF.
const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ')

/** Redis's glob (KEYS, SCAN MATCH): *, ?, [abc], [^a-z], backslash escapes. */
export function globToRegExp(pattern: string): RegExp {
  let out = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') out += '[\\s\\S]*'
    else if (c === '?') out += '[\\s\\S]'
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRegExp(pattern[++i])
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) {
        out += '\\['
        continue
      }
      let body = pattern.slice(i + 1, end)
      const negate = body.startsWith('^')
      if (negate) body = body.slice(1)
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`
      i = end
    } else out += escapeRegExp(c)
  }
  return new RegExp(`${out}$`)
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
