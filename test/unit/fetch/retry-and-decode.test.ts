import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { decodeBody } from '../../../src/fetch/decode-body.ts'
import { backoffDelayMs, isRetryable, parseRetryAfterMs, withRetries } from '../../../src/fetch/retry.ts'

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('0')).toBe(0)
    expect(parseRetryAfterMs(' 7 ')).toBe(7000)
  })

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000)
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
  })

  it('ignores absent and unreadable values', () => {
    expect(parseRetryAfterMs(undefined)).toBeUndefined()
    expect(parseRetryAfterMs('soon')).toBeUndefined()
    expect(parseRetryAfterMs('-5')).toBeUndefined()
  })
})

describe('backoffDelayMs', () => {
  it('doubles per retry within equal-jitter bounds and stops at the maximum', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 }
    for (let i = 0; i < 50; i++) {
      const first = backoffDelayMs(0, policy)
      const third = backoffDelayMs(2, policy)
      const tenth = backoffDelayMs(9, policy)
      expect(first).toBeGreaterThanOrEqual(50)
      expect(first).toBeLessThanOrEqual(100)
      expect(third).toBeGreaterThanOrEqual(200)
      expect(third).toBeLessThanOrEqual(400)
      expect(tenth).toBeGreaterThanOrEqual(500)
      expect(tenth).toBeLessThanOrEqual(1000)
    }
  })
})

describe('withRetries', () => {
  const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 2, retryAfterCapMs: 50 }
  const failure = (details: Record<string, unknown>) => new AppError('FetchFailed', 'x', { details })

  it('retries retryable failures until one succeeds', async () => {
    let calls = 0
    const result = await withRetries(async () => {
      calls++
      if (calls < 3) throw failure({ retryable: true })
      return 'ok'
    }, policy)
    expect({ result, calls }).toEqual({ result: 'ok', calls: 3 })
  })

  it('gives up after the configured number of retries', async () => {
    let calls = 0
    const run = withRetries(async () => {
      calls++
      throw failure({ retryable: true })
    }, policy)
    await expect(run).rejects.toMatchObject({ code: 'FetchFailed' })
    expect(calls).toBe(4)
  })

  it('does not retry non-retryable failures or other errors', async () => {
    for (const error of [failure({ retryable: false }), new AppError('ListingNotFound', 'gone'), new Error('bug')]) {
      let calls = 0
      await expect(
        withRetries(async () => {
          calls++
          throw error
        }, policy),
      ).rejects.toBe(error)
      expect(calls).toBe(1)
    }
  })

  it('leaves a Retry-After beyond the cap to the job-level retry', async () => {
    let calls = 0
    const run = withRetries(async () => {
      calls++
      throw failure({ retryable: true, retryAfterMs: 60_000 })
    }, policy)
    await expect(run).rejects.toMatchObject({ details: { retryAfterMs: 60_000 } })
    expect(calls).toBe(1)
  })

  it('classifies only retryable FetchFailed as retryable', () => {
    expect(isRetryable(failure({ retryable: true }))).toBe(true)
    expect(isRetryable(failure({ retryable: false }))).toBe(false)
    expect(isRetryable(new AppError('SiteBlocked', 'x', { details: { retryable: true } }))).toBe(false)
  })
})

function encodeWindows1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((char) => {
      const code = char.codePointAt(0)!
      if (code < 0x80) return code
      if (code >= 0x410 && code <= 0x44f) return code - 0x410 + 0xc0
      if (char === 'Ё') return 0xa8
      if (char === 'ё') return 0xb8
      throw new Error(`no windows-1251 byte for ${char}`)
    }),
  )
}

describe('decodeBody', () => {
  const text = 'Продаётся 2-комнатная квартира, Ёлочная ул.'

  it('decodes UTF-8 by default', () => {
    expect(decodeBody(Buffer.from(text), 'text/html')).toBe(text)
  })

  it('decodes windows-1251 when Content-Type says so, under any of its labels', () => {
    const bytes = encodeWindows1251(text)
    expect(decodeBody(bytes, 'text/html; charset=windows-1251')).toBe(text)
    expect(decodeBody(bytes, 'text/html;charset="CP1251"')).toBe(text)
    expect(decodeBody(bytes, 'text/html')).not.toBe(text)
  })

  it('decodes windows-1251 declared by an early <meta charset>', () => {
    const html = `<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head><body>${text}</body></html>`
    expect(decodeBody(encodeWindows1251(html), 'text/html')).toContain(text)
  })

  it('prefers the Content-Type charset over <meta>', () => {
    const html = `<meta charset="windows-1251">${text}`
    expect(decodeBody(Buffer.from(html), 'text/html; charset=utf-8')).toContain(text)
  })

  it('falls back to UTF-8 for unknown or unsupported labels', () => {
    expect(decodeBody(Buffer.from(text), 'text/html; charset=bogus')).toBe(text)
    expect(decodeBody(Buffer.from(text), 'text/html; charset=utf-16le')).toBe(text)
  })
})
