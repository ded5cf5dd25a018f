/**
 * Reading JSON that sites embed in <script> text. Everything here returns null on bad input
 * and never throws, so a parser can always fall back to the visible page.
 */

export function safeJsonParse(text: string | null | undefined): unknown {
  if (typeof text !== 'string') return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/**
 * The JSON text of the object or array that starts at or after `from`, cut at its balancing
 * bracket. Bare `undefined` tokens (domclick writes them into its state) become `null`.
 */
export function sliceJsonValue(source: string, from: number): string | null {
  const start = firstBracket(source, from)
  if (start < 0) return null
  let depth = 0
  let inString = false
  let out = ''
  let chunkStart = start
  for (let i = start; i < source.length; i++) {
    const c = source.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 || c === 91) depth++
    else if (c === 125 || c === 93) {
      depth--
      if (depth === 0) return out + source.slice(chunkStart, i + 1)
    } else if (c === 117 && source.startsWith('undefined', i) &&
      !isWordChar(source, i - 1) &&
      !isWordChar(source, i + 9)) {
      out += source.slice(chunkStart, i) + 'null'
      i += 8
      chunkStart = i + 1
    }
  }
  return null
}

/** The parsed JSON value that follows `marker` in `source`, or null. */
export function jsonAfter(source: string, marker: string, from = 0): unknown {
  const at = source.indexOf(marker, from)
  if (at < 0) return null
  return safeJsonParse(sliceJsonValue(source, at + marker.length))
}

/**
 * The decoded JS/JSON string literal that starts at the first `"` after `marker`
 * (avito ships its state as `JSON.parse("…")`).
 */
export function stringLiteralAfter(source: string, marker: string): string | null {
  const at = source.indexOf(marker)
  if (at < 0) return null
  const start = source.indexOf('"', at + marker.length)
  if (start < 0) return null
  for (let i = start + 1; i < source.length; i++) {
    const c = source.charCodeAt(i)
    if (c === 92) i++
    else if (c === 34) {
      const decoded = safeJsonParse(source.slice(start, i + 1))
      return typeof decoded === 'string' ? decoded : null
    }
  }
  return null
}

/** Walks a parsed JSON value by keys and indexes; any miss gives undefined. */
export function dig(value: unknown, ...path: Array<string | number>): unknown {
  let current = value
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string | number, unknown>)[key]
  }
  return current
}

export function asString(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim()
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

export function asNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value)
  return null
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

export function asRecord(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null
}

function firstBracket(source: string, from: number): number {
  for (let i = from; i < source.length && i < from + 64; i++) {
    const c = source[i]
    if (c === '{' || c === '[') return i
  }
  return -1
}

function isWordChar(source: string, index: number): boolean {
  return index >= 0 && /[\w$]/.test(source[index])
}
