import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeBody } from '../../../src/fetch/decode-body.ts'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { CORE_FIELDS, countVerdicts, formatScoreTable, scoreProperty, type Expected, type FieldScore } from '../../helpers/scoring.ts'

// Real pages of sites we have no parser for (test/fixtures/generic/README.md): the generic extractor alone.
const DIR = join(import.meta.dirname, '../../fixtures/generic')
const fixtures = readdirSync(DIR)
  .filter((file) => file.endsWith('.expected.json'))
  .map((file) => {
    const expected = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Expected & { request_url: string }
    // Decoded as the fetcher would: the page's own <meta charset> (rightmove 2017 is iso-8859-1).
    return { name: file.replace('.expected.json', ''), html: decodeBody(readFileSync(join(DIR, expected.fixture)), 'text/html'), expected }
  })
const results: Array<{ page: string; scores: FieldScore[] }> = []
/** Most core fields right where the page carries JSON-LD or embedded state (every page here but idealista). */
const MIN_CORE_ACCURACY = 0.75

describe('the generic extractor on real pages of other sites', () => {
  afterAll(() => {
    const core = results.flatMap((r) => r.scores.filter((s) => (CORE_FIELDS as readonly string[]).includes(s.field)))
    const byField = new Map<string, FieldScore[]>()
    for (const score of core) byField.set(score.field, [...(byField.get(score.field) ?? []), score])
    const lines = [...byField].map(([field, scores]) => `${field.padEnd(16)} ${scores.filter((s) => s.verdict === 'right').length}/${scores.length}`)
    const counts = countVerdicts(core)
    console.log(`\n${formatScoreTable(results)}\n\ngeneric extractor, per core field (right/scored):\n${lines.join('\n')}\n` +
      `overall: ${counts.right}/${core.length} right (${Math.round((100 * counts.right) / core.length)}%), ${counts.wrong} wrong, ${counts.missing} missing\n`)
  })

  it('has the twelve pages', () => {
    expect(fixtures).toHaveLength(12)
  })

  it.each(fixtures.map((f) => [f.name, f] as const))('%s: a listing (no false block verdict), nothing invented', (_name, fixture) => {
    const outcome = parsePage(fixture.html, fixture.expected.request_url)
    expect(outcome.blocked ? outcome.reason : 'listing').toBe('listing')
    if (outcome.blocked) return
    expect(outcome.property.source).toBe('generic')
    const scores = scoreProperty(outcome.property, fixture.expected)
    results.push({ page: fixture.name, scores })
    expect(scores.filter((s) => s.verdict === 'invented')).toEqual([])
  })

  it(`gets at least ${MIN_CORE_ACCURACY * 100}% of the core fields right over all pages`, () => {
    const core = results.flatMap((r) => r.scores.filter((s) => (CORE_FIELDS as readonly string[]).includes(s.field)))
    expect(core.length).toBeGreaterThan(100)
    expect(countVerdicts(core).right / core.length).toBeGreaterThanOrEqual(MIN_CORE_ACCURACY)
  })
})
