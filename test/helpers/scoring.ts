/**
 * Scores a parsed property against a fixture's `.expected.json`, field by field.
 *
 * Rules (from test/fixtures/pages/README.md):
 * - A field is scored only where the expected file gives it. Verdicts:
 *   right (matches), wrong (a different value), missing (we returned null / an empty list).
 * - Numbers: areas and ceiling height within ±0.05, lat/lon within ±1e-4, everything else
 *   (price, rooms, floors, years, price per m², minutes) exactly.
 * - Strings are compared after normalisation: trim, collapse whitespace, ё→е, case-insensitive.
 * - Lists (metro) are compared as sets of normalised strings.
 * - `_accept[field]` lists other values that also count as right (`extra__<key>` for extras).
 * - `_absent` fields must be null or empty; any value there is "invented" (worse than a miss).
 *   `_absent` names the property has no field for are skipped.
 * - `extra` values are scored only where the property has a matching field (EXTRA_FIELDS).
 */
import type { Property } from '../../src/tasks/parse/property.ts'

export type Verdict = 'right' | 'wrong' | 'missing' | 'invented'
export type FieldScore = { field: string; verdict: Verdict; expected: unknown; actual: unknown }

export type Expected = {
  fixture: string
  page_kind: 'offer' | 'serp' | 'blocked'
  source: string
  url?: string
  extra?: Record<string, unknown>
  _absent?: string[]
  _accept?: Record<string, unknown[]>
  [field: string]: unknown
}

export const CORE_FIELDS = [
  'offer_id',
  'url',
  'deal_type',
  'property_type',
  'market',
  'is_active',
  'price',
  'currency',
  'total_area',
  'living_area',
  'kitchen_area',
  'rooms',
  'floor',
  'floors_total',
  'address',
  'city',
  'district',
  'metro',
  'year_built',
  'house_type',
  'ceiling_height',
  'lat',
  'lon',
  'title',
] as const satisfies ReadonlyArray<keyof Property>

/** `extra` keys → the property field that holds the same fact. */
export const EXTRA_FIELDS: Record<string, keyof Property> = {
  price_per_sqm: 'price_per_sqm',
  residential_complex: 'residential_complex',
  metro_details: 'metro_details',
  completion_year: 'completion_year',
  repair: 'repair',
  decoration: 'repair',
}

const TOLERANCE: Record<string, number> = {
  total_area: 0.05,
  living_area: 0.05,
  kitchen_area: 0.05,
  land_area: 0.05,
  ceiling_height: 0.05,
  lat: 1e-4,
  lon: 1e-4,
}

export function scoreProperty(property: Property, expected: Expected): FieldScore[] {
  const scores: FieldScore[] = []
  const accept = expected._accept ?? {}
  for (const field of CORE_FIELDS) {
    if (!(field in expected)) continue
    scores.push(scoreField(field, property[field], expected[field], accept[field] ?? []))
  }
  for (const [key, value] of Object.entries(expected.extra ?? {})) {
    const field = EXTRA_FIELDS[key]
    if (!field) continue
    const score = scoreField(field, property[field], value, accept[`extra__${key}`] ?? [])
    scores.push({ ...score, field: `extra.${key}` })
  }
  for (const field of expected._absent ?? []) {
    if (!(field in property)) continue
    const actual = property[field as keyof Property]
    scores.push({ field: `absent.${field}`, verdict: isEmpty(actual) ? 'right' : 'invented', expected: null, actual })
  }
  return scores
}

export function scoreField(field: string, actual: unknown, expected: unknown, alternatives: unknown[]): FieldScore {
  if (isEmpty(actual)) return { field, verdict: 'missing', expected, actual }
  const right = [expected, ...alternatives].some((candidate) => same(field, actual, candidate))
  return { field, verdict: right ? 'right' : 'wrong', expected, actual }
}

export function normalizeString(value: string): string {
  return value.replace(/[\s\u00a0\u2009\u202f]+/g, ' ').trim().replace(/ё/gi, 'е').toLowerCase()
}

export function countVerdicts(scores: FieldScore[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { right: 0, wrong: 0, missing: 0, invented: 0 }
  for (const score of scores) counts[score.verdict]++
  return counts
}

/** A page × field table: one row per page, one column per field, a letter per verdict. */
export function formatScoreTable(results: Array<{ page: string; scores: FieldScore[] }>): string {
  const letter: Record<Verdict, string> = { right: '.', wrong: 'W', missing: 'M', invented: 'I' }
  const fields = [...new Set(results.flatMap((r) => r.scores.map((s) => s.field)))]
  const lines = [`legend: . right, W wrong, M missing, I invented, blank = not scored`]
  for (const result of results) {
    const counts = countVerdicts(result.scores)
    lines.push(
      `${result.page.padEnd(28)} right ${counts.right} wrong ${counts.wrong} missing ${counts.missing} invented ${counts.invented}`,
    )
  }
  lines.push('')
  lines.push(`${'field'.padEnd(26)} ${results.map((r) => r.page.slice(0, 14).padEnd(14)).join(' ')}`)
  for (const field of fields) {
    const cells = results.map((r) => {
      const score = r.scores.find((s) => s.field === field)
      return (score ? letter[score.verdict] : '').padEnd(14)
    })
    lines.push(`${field.padEnd(26)} ${cells.join(' ')}`)
  }
  return lines.join('\n')
}

function same(field: string, actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') {
    return Math.abs(actual - expected) <= (TOLERANCE[field] ?? 0) + 1e-9
  }
  if (typeof expected === 'string' && typeof actual === 'string') {
    return normalizeString(actual) === normalizeString(expected)
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.every((e) => typeof e === 'string')) return sameStringSet(actual, expected)
    return expected.length === actual.length && expected.every((e, i) => sameObject(field, actual[i], e))
  }
  if (typeof expected === 'object' && expected !== null) return sameObject(field, actual, expected)
  return actual === expected
}

function sameObject(field: string, actual: unknown, expected: unknown): boolean {
  if (typeof actual !== 'object' || actual === null || typeof expected !== 'object' || expected === null) {
    return false
  }
  return Object.entries(expected).every(([key, value]) =>
    same(`${field}.${key}`, (actual as Record<string, unknown>)[key], value),
  )
}

function sameStringSet(actual: unknown[], expected: string[]): boolean {
  const a = new Set(actual.map((v) => normalizeString(String(v))))
  const e = new Set(expected.map(normalizeString))
  return a.size === e.size && [...e].every((v) => a.has(v))
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (Array.isArray(value) && value.length === 0)
}
