import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseCianSerp } from '../../src/tasks/find-similar/serp-cian.ts'
import { parsePage } from '../../src/tasks/parse/parse-page.ts'
import { PropertySchema, type Property } from '../../src/tasks/parse/property.ts'

/**
 * Property: the parsers, fed real saved pages that were cut, corrupted byte-wise, structurally broken
 * (tags, embedded JSON state, nesting), spliced together or salted with NUL and lone surrogates, never
 * throw, stay under a time bound per page, and return only schema-valid properties whose text Postgres
 * can store (no U+0000, no unpaired surrogate).
 */

const PAGES_DIR = join(import.meta.dirname, '../fixtures/pages')
const page = (file: string, url: string) => ({ file, url, html: readFileSync(join(PAGES_DIR, file), 'utf8') })

const LISTINGS = [
  page('cian-offer-315831388.html', 'https://spb.cian.ru/sale/flat/315831388/'),
  page('cian-offer-331090051.html', 'https://tyumen.cian.ru/rent/flat/331090051/'),
  page('avito-item-7626114474.html', 'https://www.avito.ru/tyumen/kvartiry/x_7626114474'),
  page('domclick-card-2078584220.html', 'https://tyumen.domclick.ru/card/rent__flat__2078584220'),
  page('cian-captcha-2024.html', 'https://www.cian.ru/sale/flat/1/'),
  page('avito-blocked-ip-2026.html', 'https://www.avito.ru/moskva/kvartiry/1'),
]
const SERP = page('cian-serp-rent-moscow-2023.html', 'https://www.cian.ru/cat.php?deal_type=rent&offer_type=flat&region=1')

const RUNS_PER_PAGE = 150
const SERP_RUNS = 120
const MAX_LISTING_MS = 2_000
const MAX_SERP_MS = 4_000

const stats = { listing: 0, serp: 0, listingMaxMs: 0, serpMaxMs: 0, blocked: 0 }

// ---- mutations over real pages -----------------------------------------------------------------

type Mutation = (html: string) => string
const at = (html: string, where: number) => Math.floor(html.length * where)
/** A mutation that prints as what it does in a counterexample. */
const described = (name: string, mutate: Mutation): Mutation => Object.assign(mutate, { [fc.toStringMethod]: () => name })
const short = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…(${text.length})` : text)

const NASTY = ['\u0000', '\ud800', '\udfff', '\uFEFF', '<', '>', '"', "'", '&#0;', '&#xD800;', '&amp;&', '<!--', ']]>', '</script>', '<script>', '\\u0000', '\\ud800', '{', '}', '[', ']', ':', ',', 'null', 'NaN', '-1', '1e309', '99999999999999999999']

const JSON_VALUE_SWAPS = ['null', '-1', '0', '1e309', '-1e309', '99999999999999999999', '"x"', '""', '"\\u0000"', '"\\ud800"', '[]', '{}', 'true', '"1 000 000 ₽"']

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Cut off: a connection that died mid-page.
  fc.double({ min: 0, max: 1, noNaN: true }).map((where) => described(`cut at ${where.toFixed(3)}`, (html) => html.slice(0, at(html, where)))),
  // A few bytes replaced, inserted or removed anywhere.
  fc
    .array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.oneof(fc.string({ maxLength: 6, unit: 'binary' }), fc.constantFrom(...NASTY)), fc.nat({ max: 8 })), { minLength: 1, maxLength: 25 })
    .map((edits) =>
      described(`${edits.length} byte edits ${edits.map(([w, t, d]) => `${w.toFixed(3)}:${short(t)}-${d}`).join(' ')}`, (html) =>
        edits.reduce((out, [where, text, drop]) => out.slice(0, at(out, where)) + text + out.slice(at(out, where) + drop), html),
      ),
    ),
  // Every occurrence of a tag-ish or JSON-ish token broken the same way (structure, not noise).
  fc
    .tuple(fc.constantFrom('<div', '</div>', '<span', '<script', '</script>', '<meta', '":', '",', '{"', '[{', 'data-name="', 'itemprop="', 'content="', 'class="'), fc.constantFrom('', '<', '>', '"', '{', '\u0000', 'x'))
    .map(([token, replacement]) => described(`every ${short(token)} → ${short(token.slice(0, -1) + replacement)}`, (html) => html.replaceAll(token, token.slice(0, -1) + replacement))),
  // Values inside embedded JSON state swapped for the wrong type or an absurd number.
  fc
    .tuple(fc.constantFrom('"price"', '"totalArea"', '"total_area"', '"floorNumber"', '"roomsCount"', '"lat"', '"lng"', '"coordinates"', '"priceRur"', '"bargainTerms"', '"geo"', '"offers"', '"value"', '"id"', '"cianId"'), fc.constantFrom(...JSON_VALUE_SWAPS))
    .map(([key, value]) =>
      described(`every ${key}: value → ${value}`, (html) => html.replace(new RegExp(`${key}:\\s*("(?:[^"\\\\]|\\\\.)*"|-?[0-9.eE+]+|true|false|null)`, 'g'), `${key}:${value}`)),
    ),
  // A slice of the page repeated, or another page spliced in.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.05, noNaN: true }), fc.integer({ min: 2, max: 20 }))
    .map(([where, size, times]) =>
      described(`slice at ${where.toFixed(3)} of ${size.toFixed(3)} repeated ${times}×`, (html) => {
        const from = at(html, where)
        const chunk = html.slice(from, from + at(html, size))
        return html.slice(0, from) + chunk.repeat(times) + html.slice(from)
      }),
    ),
  fc
    .tuple(fc.constantFrom(...LISTINGS), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([other, where, from]) =>
      described(`cut at ${where.toFixed(3)}, then ${other.file} from ${from.toFixed(3)}`, (html) => html.slice(0, at(html, where)) + other.html.slice(at(other.html, from))),
    ),
  // Pathological nesting and attribute sizes dropped into the page.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('<div>'.repeat(20_000), '<b><i>'.repeat(5_000), `<span title="${'x'.repeat(500_000)}">`, '&amp;'.repeat(100_000), '<!--'.repeat(10_000), '['.repeat(50_000)))
    .map(([where, blob]) => described(`${short(blob)} inserted at ${where.toFixed(3)}`, (html) => html.slice(0, at(html, where)) + blob + html.slice(at(html, where)))),
)

const mutations = fc.array(mutation, { minLength: 1, maxLength: 3 })

// ---- checks ------------------------------------------------------------------------------------

function expectStorable(value: unknown, where: string) {
  const text = JSON.stringify(value)
  expect(text.includes('\\u0000'), `${where}: U+0000 in ${text.slice(0, 200)}`).toBe(false)
  expect(text.isWellFormed(), `${where}: unpaired surrogate`).toBe(true)
}

function expectValidProperty(property: Property, where: string) {
  const parsed = PropertySchema.safeParse(property)
  expect(parsed.success, `${where}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))}`).toBe(true)
  expectStorable(property, where)
}

afterAll(() => {
  console.log(
    `parser fuzz: ${stats.listing} mutated listing pages (max ${Math.round(stats.listingMaxMs)} ms, ${stats.blocked} read as blocked), ` +
      `${stats.serp} mutated SERP pages (max ${Math.round(stats.serpMaxMs)} ms); uncaught exceptions: 0`,
  )
})

describe('parser fuzzing over mutated real pages', () => {
  it.each(LISTINGS.map((p) => [p.file, p] as const))('parsePage(%s): never throws, bounded time, valid storable output', (_file, original) => {
    fc.assert(
      fc.property(mutations, fc.constantFrom(original.url, 'https://example.com/listing/1', 'not a url'), (edits, url) => {
        const html = edits.reduce((out, edit) => edit(out), original.html)
        const started = performance.now()
        const outcome = parsePage(html, url)
        const ms = performance.now() - started
        stats.listing++
        stats.listingMaxMs = Math.max(stats.listingMaxMs, ms)
        expect(ms, `${original.file} took ${Math.round(ms)} ms`).toBeLessThan(MAX_LISTING_MS)
        if (outcome.blocked) {
          stats.blocked++
          expectStorable(outcome, original.file)
        } else {
          expectValidProperty(outcome.property, original.file)
        }
      }),
      { numRuns: RUNS_PER_PAGE },
    )
  })

  it('parseCianSerp: never throws, bounded time, every card valid and storable', () => {
    fc.assert(
      fc.property(mutations, (edits) => {
        const html = edits.reduce((out, edit) => edit(out), SERP.html)
        const started = performance.now()
        const outcome = parseCianSerp(html, SERP.url)
        const ms = performance.now() - started
        stats.serp++
        stats.serpMaxMs = Math.max(stats.serpMaxMs, ms)
        expect(ms, `SERP took ${Math.round(ms)} ms`).toBeLessThan(MAX_SERP_MS)
        if (outcome.blocked) return
        for (const card of outcome.cards) expectValidProperty(card, 'SERP card')
        expect(outcome.totalFound === null || Number.isSafeInteger(outcome.totalFound)).toBe(true)
      }),
      { numRuns: SERP_RUNS },
    )
  }, 240_000)

  it('stays fast on what earlier runs found: deep nesting was quadratic (80 000 <div>s: ~30 s)', () => {
    for (const depth of [20_000, 80_000, 1_600_000]) {
      const html = `<html><head><meta property="og:title" content="2-комн. квартира"></head><body>${'<div>'.repeat(depth)}Цена 100 ₽</body></html>`
      for (const [name, parse] of [
        ['parsePage', () => parsePage(html, 'https://example.com/listing/1')],
        ['parseCianSerp', () => parseCianSerp(html, SERP.url)],
      ] as const) {
        const started = performance.now()
        parse()
        const ms = performance.now() - started
        expect(ms, `${name} at depth ${depth}: ${Math.round(ms)} ms`).toBeLessThan(1_000)
      }
    }
  })

  it('returns storable text and safe numbers from what earlier runs found: NUL in a title, an absurd floor in SERP state', () => {
    const listing = LISTINGS[0]
    const outcome = parsePage(listing.html.replaceAll('<h1', '<h1 data-x="\u0000">\u0000<span>\ud800</span></h1><h1'), listing.url)
    if (!outcome.blocked) expectValidProperty(outcome.property, 'cian with NUL')
    const serp = parseCianSerp(SERP.html.replace(/"floorNumber":\s*\d+/g, '"floorNumber":99999999999999999999'), SERP.url)
    expect(serp.blocked).toBe(false)
    if (!serp.blocked) {
      expect(serp.cards.length).toBeGreaterThan(0)
      for (const card of serp.cards) expectValidProperty(card, 'SERP card with an absurd floor')
    }
  })
})
