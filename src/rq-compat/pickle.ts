import { Parser } from 'pickleparser'

/** What crosses the adapter in a pickle: Python's plain data (a tuple reads back as an array). */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue }

/** A Python tuple when written; read back, tuples and lists are both arrays. */
export class Tuple {
  readonly items: readonly PickleInput[]
  constructor(items: readonly PickleInput[]) {
    this.items = items
  }
}

export type PickleInput = PlainValue | Tuple | undefined | readonly PickleInput[] | { readonly [key: string]: PickleInput }

export class PickleRefused extends Error {}

const MAX_DEPTH = 64

// Protocol 2 opcodes (Python's Lib/pickletools.py): the subset that writes plain data.
const OP = {
  PROTO: 0x80,
  STOP: 0x2e,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT: 0x4a,
  LONG1: 0x8a,
  BINFLOAT: 0x47,
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPENDS: 0x65,
  EMPTY_DICT: 0x7d,
  SETITEMS: 0x75,
  MARK: 0x28,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
} as const

/** Writes plain data as a protocol-2 pickle that Python's pickle.loads reads (no memo, no globals). */
export function dumpPickle(value: PickleInput): Buffer {
  const parts: Buffer[] = [Buffer.from([OP.PROTO, 2])]
  const byte = (b: number): void => void parts.push(Buffer.from([b]))
  function write(v: PickleInput, depth: number): void {
    if (depth > MAX_DEPTH) throw new PickleRefused('value nested too deeply to pickle')
    if (v === null || v === undefined) return byte(OP.NONE)
    if (v === true) return byte(OP.NEWTRUE)
    if (v === false) return byte(OP.NEWFALSE)
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
        const b = Buffer.alloc(5)
        b[0] = OP.BININT
        b.writeInt32LE(v, 1)
        return void parts.push(b)
      }
      if (Number.isSafeInteger(v)) {
        // LONG1: little-endian two's complement, 8 bytes always suffice for a safe integer.
        const b = Buffer.alloc(10)
        b[0] = OP.LONG1
        b[1] = 8
        b.writeBigInt64LE(BigInt(v), 2)
        return void parts.push(b)
      }
      const b = Buffer.alloc(9)
      b[0] = OP.BINFLOAT
      b.writeDoubleBE(v, 1)
      return void parts.push(b)
    }
    if (typeof v === 'string') {
      const text = Buffer.from(v, 'utf8')
      const head = Buffer.alloc(5)
      head[0] = OP.BINUNICODE
      head.writeUInt32LE(text.length, 1)
      return void parts.push(head, text)
    }
    if (v instanceof Tuple) {
      if (v.items.length === 0) return byte(OP.EMPTY_TUPLE)
      byte(OP.MARK)
      for (const item of v.items) write(item, depth + 1)
      return byte(OP.TUPLE)
    }
    if (Array.isArray(v)) {
      byte(OP.EMPTY_LIST)
      if (v.length === 0) return
      byte(OP.MARK)
      for (const item of v) write(item, depth + 1)
      return byte(OP.APPENDS)
    }
    if (typeof v === 'object') {
      byte(OP.EMPTY_DICT)
      const entries = Object.entries(v)
      if (entries.length === 0) return
      byte(OP.MARK)
      for (const [key, item] of entries) {
        write(key, depth + 1)
        write(item, depth + 1)
      }
      return byte(OP.SETITEMS)
    }
    throw new PickleRefused(`cannot pickle a ${typeof v}`)
  }
  write(value, 0)
  byte(OP.STOP)
  return Buffer.concat(parts)
}

const refuse = (what: string) => () => {
  throw new PickleRefused(`pickle refers to ${what}; only plain data (str, int, float, bool, None, list, tuple, dict) is accepted`)
}

const refusingNames = { resolve: (module: string, name: string) => refuse(`the Python global ${module}.${name}`)() }

/**
 * Reads a pickle (any protocol) holding only plain data. Globals, persistent ids and extensions are
 * refused as the parser meets them (nothing is ever called); sets, bytes and non-string dict keys
 * are refused after parsing, so any value that is not plain data refuses the whole pickle.
 */
export function loadPickle(bytes: Uint8Array): PlainValue {
  const parser = new Parser({
    nameResolver: refusingNames,
    persistentResolver: { resolve: refuse('a persistent id') },
    extensionResolver: { resolve: refuse('an extension code') },
    unpicklingTypeOfSet: 'Set',
    unpicklingTypeOfDictionary: 'Map',
  })
  let value: unknown
  try {
    value = parser.parse(bytes)
  } catch (e) {
    if (e instanceof PickleRefused) throw e
    throw new PickleRefused(`not a readable pickle: ${e instanceof Error ? e.message : String(e)}`)
  }
  return toPlain(value, 0)
}

function toPlain(value: unknown, depth: number): PlainValue {
  if (depth > MAX_DEPTH) throw new PickleRefused('pickle nested too deeply')
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PickleRefused('pickle holds a non-finite float')
    return value
  }
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new PickleRefused('pickle holds an integer beyond ±2^53')
    }
    return Number(value)
  }
  if (Array.isArray(value)) return value.map((item) => toPlain(item, depth + 1))
  if (value instanceof Map) {
    // No prototype, so a key named __proto__ is only a key.
    const out: Record<string, PlainValue> = Object.create(null)
    for (const [key, item] of value) {
      if (typeof key !== 'string') throw new PickleRefused('pickle holds a dict with a non-string key')
      out[key] = toPlain(item, depth + 1)
    }
    return out
  }
  throw new PickleRefused(`pickle holds a ${value instanceof Set ? 'set' : value instanceof Uint8Array ? 'bytes value' : typeof value}; only plain data is accepted`)
}
