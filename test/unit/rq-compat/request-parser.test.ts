import { describe, expect, it } from 'vitest'
import { createRequestParser, ProtocolError } from '../../../src/rq-compat/request-parser.ts'
import { globToRegExp } from '../../../src/rq-compat/resp.ts'
import { pyRepr, rqTime } from '../../../src/rq-compat/keyspace.ts'

const limits = { maxArguments: 8, maxBulkBytes: 16, maxRequestBytes: 64 }

function parseAll(...chunks: string[]): string[][] {
  const parser = createRequestParser(limits)
  const out: string[][] = []
  for (const chunk of chunks) parser.push(Buffer.from(chunk), (args) => out.push(args.map(String)))
  return out
}

describe('the request parser', () => {
  it('reads arrays of bulk strings however they are split into chunks', () => {
    expect(parseAll('*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPI', 'NG\r\n')).toEqual([['ECHO', 'hi'], ['PING']])
    expect(parseAll('*', '1\r', '\n$', '4\r\nP', 'ING', '\r', '\n')).toEqual([['PING']])
  })

  it('reads inline commands, as typed into telnet', () => {
    expect(parseAll('PING\r\nECHO  a b\n')).toEqual([['PING'], ['ECHO', 'a', 'b']])
  })

  it.each([
    ['too many arguments', '*9\r\n'],
    ['a bulk longer than the cap', '*1\r\n$17\r\n'],
    ['a negative bulk length', '*1\r\n$-1\r\n'],
    ['a nested array', '*1\r\n*1\r\n$4\r\nPING\r\n'],
    ['a bulk without its CRLF', '*1\r\n$4\r\nPINGxx'],
    ['a non-numeric length', '*x\r\n'],
    ['a request beyond the byte cap', `${'*8\r\n'}${'$16\r\n0123456789abcdef\r\n'.repeat(4)}`],
  ])('refuses %s', (_what, input) => {
    expect(() => parseAll(input)).toThrow(ProtocolError)
  })
})

describe('key layout helpers', () => {
  it("matches Redis's glob patterns", () => {
    expect(globToRegExp('rq:*').test('rq:job:1')).toBe(true)
    expect(globToRegExp('rq:job:?').test('rq:job:12')).toBe(false)
    expect(globToRegExp('rq:[fw]*').test('rq:wip:x')).toBe(true)
    expect(globToRegExp('rq:[^fw]*').test('rq:wip:x')).toBe(false)
    expect(globToRegExp('a\\*').test('a*')).toBe(true)
    expect(globToRegExp('a.b').test('axb')).toBe(false)
  })

  it("writes RQ's timestamps (microseconds, Z) and Python's repr of call arguments", () => {
    expect(rqTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z')
    expect(pyRepr({ url: "it's", n: 2, f: 1.5, ok: true, none: null, list: ['a'] })).toBe(`{'url': "it's", 'n': 2, 'f': 1.5, 'ok': True, 'none': None, 'list': ['a']}`)
  })
})
