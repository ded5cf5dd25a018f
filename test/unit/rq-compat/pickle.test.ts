import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { dumpPickle, loadPickle, PickleRefused, Tuple } from '../../../src/rq-compat/index.ts'

// Python itself is the reference: what we write, pickle.loads reads; what pickle.dumps writes, we read.
function python(code: string, input?: Buffer): Buffer {
  return execFileSync('/usr/bin/python3', ['-c', code], { input })
}

const fromPython = (expression: string) => python(`import pickle, sys, os; sys.stdout.buffer.write(pickle.dumps(${expression}, protocol=pickle.HIGHEST_PROTOCOL))`)

describe('dumpPickle', () => {
  it("writes RQ's job data tuple so that Python reads it back as the same value", () => {
    const value = new Tuple(['housler.parse', null, new Tuple([]), { url: 'https://spb.cian.ru/sale/flat/1/', session_id: 'сессия', n: -3, big: 2 ** 40, f: 0.25, ok: true, no: false, list: [1, 'a', null], nested: {} }])
    const repr = python('import pickle, sys; print(repr(pickle.loads(sys.stdin.buffer.read())))', dumpPickle(value)).toString().trim()
    expect(repr).toBe(
      "('housler.parse', None, (), {'url': 'https://spb.cian.ru/sale/flat/1/', 'session_id': 'сессия', 'n': -3, 'big': 1099511627776, 'f': 0.25, 'ok': True, 'no': False, 'list': [1, 'a', None], 'nested': {}})",
    )
  })
})

describe('loadPickle', () => {
  it('reads the protocol-5 pickles RQ 1.13 writes, tuples as arrays', () => {
    expect(loadPickle(fromPython("('housler.parse', None, (), {'url': 'u', 'session_id': 'py', 'x': [1, 2.5, None, True]})"))).toEqual([
      'housler.parse',
      null,
      [],
      { url: 'u', session_id: 'py', x: [1, 2.5, null, true] },
    ])
  })

  it.each([
    ['a global (os.system)', 'os.system'],
    ['an object that reduces to a call', "__import__('datetime').date(2024, 1, 1)"],
    ['a set', '{1, 2}'],
    ['bytes', "b'raw'"],
    ['a dict with a non-string key', '{1: 2}'],
  ])('refuses %s', (_what, expression) => {
    expect(() => loadPickle(fromPython(expression))).toThrow(PickleRefused)
  })

  it('refuses bytes that are not a pickle', () => {
    expect(() => loadPickle(Buffer.from('not a pickle'))).toThrow(PickleRefused)
  })
})
