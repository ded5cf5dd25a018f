import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { PropertySchema, type ParseOutcome } from '../../../src/tasks/parse/property.ts'

const PAGES_DIR = join(import.meta.dirname, '../../fixtures/pages')
const PAGES = [
  { file: 'cian-offer-315831388.html', url: 'https://spb.cian.ru/sale/flat/315831388/' },
  { file: 'cian-offer-331090051.html', url: 'https://tyumen.cian.ru/rent/flat/331090051/' },
  { file: 'avito-item-7626114474.html', url: 'https://www.avito.ru/tyumen/kvartiry/x_7626114474' },
  { file: 'domclick-card-2078584220.html', url: 'https://tyumen.domclick.ru/card/rent__flat__2078584220' },
  { file: 'cian-captcha-2024.html', url: 'https://www.cian.ru/cat.php' },
].map((page) => ({ ...page, html: readFileSync(join(PAGES_DIR, page.file), 'utf8') }))

const URLS = [...PAGES.map((p) => p.url), 'https://example.com/listing/1', 'not a url', '']
const MAX_PARSE_MS = 2_000
const RUNS = 40

/** Parses, and asserts the outcome is a schema-valid property or a block report, in time. */
function parseSafely(html: string, url: string): ParseOutcome {
  const started = performance.now()
  const outcome = parsePage(html, url)
  expect(performance.now() - started).toBeLessThan(MAX_PARSE_MS)
  if (outcome.blocked) {
    expect(outcome.site).toEqual(expect.any(String))
    expect(outcome.reason).toEqual(expect.any(String))
  } else {
    expect(() => PropertySchema.parse(outcome.property)).not.toThrow()
  }
  return outcome
}

const page = fc.constantFrom(...PAGES)
const url = fc.constantFrom(...URLS)

describe('parsePage on hostile input', () => {
  it('survives real pages cut at random points', () => {
    fc.assert(
      fc.property(page, fc.double({ min: 0, max: 1, noNaN: true }), (p, cut) => {
        parseSafely(p.html.slice(0, Math.floor(p.html.length * cut)), p.url)
      }),
      { numRuns: RUNS },
    )
  })

  it('survives empty bodies, whitespace and non-HTML payloads', () => {
    const payloads = ['', ' ', '\u0000\u0001\u0002', '{"offer":{"price":1}}', '[1,2,3]', '<', '<<<>>>', '%PDF-1.4\n\u00ff\u00fe']
    for (const payload of payloads) for (const u of URLS) parseSafely(payload, u)
  })

  it('survives arbitrary strings and binary-looking text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2_000 }), url, (text, u) => {
        parseSafely(text, u)
      }),
      { numRuns: RUNS },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4_000 }), url, (bytes, u) => {
        parseSafely(Buffer.from(bytes).toString('latin1'), u)
      }),
      { numRuns: RUNS },
    )
  })

  it('survives huge attribute values and deep nesting', () => {
    const huge = 'x'.repeat(2_000_000)
    parseSafely(`<html><head><meta property="og:title" content="${huge}"></head><body><h1 title="${huge}">1-комн. квартира</h1></body></html>`, URLS[5])
    parseSafely(`<div data-name="ObjectFactoidsItem"><span>Общая площадь</span><span>${'9'.repeat(500_000)} м²</span></div>`, PAGES[0].url)
    parseSafely(`${'<div>'.repeat(5_000)}Цена: 100 ₽${'</div>'.repeat(5_000)}`, URLS[5])
  })

  it('falls back to the visible page when the embedded state is broken', () => {
    fc.assert(
      fc.property(page, fc.integer({ min: 1, max: 4_000 }), fc.string({ maxLength: 20 }), (p, offset, junk) => {
        for (const marker of ['"defaultState"', '__SSR_STATE__=', '__staticRouterHydrationData']) {
          const at = p.html.indexOf(marker)
          if (at < 0) continue
          const cut = at + marker.length + offset
          parseSafely(p.html.slice(0, cut) + junk + p.html.slice(cut + junk.length + 1), p.url)
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('still reads the visible cian card when its state is removed', () => {
    const cian = PAGES[0]
    const outcome = parseSafely(cian.html.replaceAll('"key":"defaultState"', '"key":"brokenState"'), cian.url)
    expect(outcome.blocked).toBe(false)
    if (outcome.blocked) return
    expect(outcome.property).toMatchObject({ price: 78_000_000, total_area: 126.4, rooms: 3, floor: 4 })
    expect(outcome.property.lat).toBeNull()
  })

  it('survives random byte mutations of real pages', () => {
    const mutation = fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ maxLength: 8 })), {
      minLength: 1,
      maxLength: 20,
    })
    fc.assert(
      fc.property(page, mutation, (p, edits) => {
        let html = p.html
        for (const [where, text] of edits) {
          const at = Math.floor(html.length * where)
          html = html.slice(0, at) + text + html.slice(at + 1)
        }
        parseSafely(html, p.url)
      }),
      { numRuns: RUNS },
    )
  })
})
