import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseCianSerp, type SerpPage } from '../../../src/tasks/find-similar/serp-cian.ts'
import { PropertySchema, type Property } from '../../../src/tasks/parse/property.ts'

const PAGES = new URL('../../fixtures/pages/', import.meta.url)
const html = readFileSync(new URL('cian-serp-rent-moscow-2023.html', PAGES), 'utf8')
const expected = JSON.parse(
  readFileSync(new URL('cian-serp-rent-moscow-2023.expected.json', PAGES), 'utf8'),
) as { url: string; total_found: number; cards: ExpectedCard[]; _accept?: Record<string, unknown> }
const PAGE_URL = `https://www.cian.ru${expected.url.replace(/^https?:\/\/www\.cian\.ru/, '')}`

type ExpectedCard = Record<string, unknown> & { position: number; _accept?: Record<string, unknown[]> }

/** Expected field → how to read the same fact off a parsed card. */
const READERS: Record<string, (p: Property) => unknown> = {
  offer_id: (p) => p.offer_id,
  url: (p) => p.url,
  price: (p) => p.price,
  rooms: (p) => p.rooms,
  is_apartments: (p) =>
    p.characteristics.is_apartments === undefined ? null : p.characteristics.is_apartments === 'true',
  total_area: (p) => p.total_area,
  floor: (p) => p.floor,
  floors_total: (p) => p.floors_total,
  address: (p) => p.address,
  okrug: (p) => p.characteristics.okrug ?? null,
  district: (p) => p.district,
  metro: (p) => p.metro[0] ?? null,
  // A card without a marketing headline shows its params line as the title.
  headline: (p) => (p.title === p.characteristics.params ? null : p.title),
  metro_minutes: (p) => p.metro_details[0]?.minutes ?? null,
  metro_mode: (p) => p.metro_details[0]?.mode ?? null,
  street_and_house: (p) =>
    p.characteristics.street ? [p.characteristics.street, p.characteristics.house].filter(Boolean).join(', ') : null,
}

const CORE = ['offer_id', 'url', 'price', 'rooms', 'total_area', 'floor', 'floors_total', 'address', 'district', 'metro']

function norm(v: unknown): unknown {
  if (typeof v !== 'string') return v
  return v.replace(/\s+/g, ' ').trim().toLowerCase().replace(/ё/g, 'е')
}

function same(actual: unknown, want: unknown): boolean {
  if (typeof want === 'number' && typeof actual === 'number') {
    return Math.abs(actual - want) <= Math.max(0.01, Math.abs(want) * 0.001)
  }
  return norm(actual) === norm(want)
}

function score(cards: Property[], fields: string[]) {
  const misses: string[] = []
  let hits = 0
  let total = 0
  const perField: Record<string, { right: number; of: number }> = {}
  expected.cards.forEach((want, i) => {
    const got = cards[i]
    for (const f of fields) {
      if (!(f in want)) continue
      total++
      perField[f] ??= { right: 0, of: 0 }
      perField[f].of++
      const actual = got ? READERS[f](got) : undefined
      const accepted = [want[f], ...(want._accept?.[f] ?? [])]
      const ok = accepted.some((a) => same(actual, a))
      if (ok) {
        hits++
        perField[f].right++
      } else misses.push(`#${want.position}.${f}: got ${JSON.stringify(actual)} want ${JSON.stringify(want[f])}`)
    }
  })
  return { rows: perField, hits, total, misses }
}

describe('parseCianSerp on cian-serp-rent-moscow-2023', () => {
  const outcome = parseCianSerp(html, PAGE_URL)

  it('reads the embedded frontend-serp state and the total count', () => {
    expect(outcome.blocked).toBe(false)
    const page = outcome as SerpPage
    expect(page.via).toBe('state')
    expect(page.totalFound).toBe(expected.total_found)
    expect(page.cards).toHaveLength(28)
  })

  it('gets every card field right against the expected file', () => {
    const page = outcome as SerpPage
    const { rows, hits, total, misses } = score(page.cards, Object.keys(READERS))
    console.table(rows)
    console.log(`state path: ${hits}/${total} fields right`, misses)
    const core = score(page.cards, CORE)
    expect(core.misses).toEqual([])
    expect(misses).toEqual([])
  })

  it('keeps state-only facts: coordinates, building, every station with its time', () => {
    const first = (outcome as SerpPage).cards[0]
    expect(first.lat).toBeCloseTo(55.780411, 5)
    expect(first.lon).toBeCloseTo(37.468838, 5)
    expect(first.region).toBe('msk')
    expect(first.residential_complex).toBe('Union Park')
    expect(first.house_type).toBe('монолит')
    expect(first.year_built).toBe(2022)
    expect(first.ceiling_height).toBeNull()
    expect(first.metro_details).toContainEqual({ name: 'Зорге', minutes: 5, mode: 'transport' })
    expect(first.price_per_sqm).toBeCloseTo(80000 / 43, 1)
  })

  it('shows the visible station first when the state marks another as default', () => {
    // Card 4: the card shows Полянка (7 min walk); the state's isDefault is Добрынинская.
    const card = (outcome as SerpPage).cards[3]
    expect(card.metro.slice(0, 2)).toEqual(['Полянка', 'Добрынинская'])
  })

  it('validates every card with PropertySchema', () => {
    for (const card of (outcome as SerpPage).cards) {
      expect(PropertySchema.safeParse(card).success).toBe(true)
    }
  })
})

describe('parseCianSerp DOM fallback (state script removed)', () => {
  const stripped = html.replace(
    /<script[^>]*>(?:(?!<\/script>)[\s\S])*window\._cianConfig\['frontend-serp'\](?:(?!<\/script>)[\s\S])*<\/script>/g,
    '',
  )

  it('really has no state left', () => {
    expect(stripped).not.toContain("_cianConfig['frontend-serp']")
    expect(stripped.length).toBeLessThan(html.length)
  })

  it('reads the CardComponent cards with the core fields right', () => {
    const outcome = parseCianSerp(stripped, PAGE_URL)
    expect(outcome.blocked).toBe(false)
    const page = outcome as SerpPage
    expect(page.via).toBe('dom')
    expect(page.totalFound).toBe(expected.total_found)
    expect(page.cards).toHaveLength(28)
    const { rows, hits, total, misses } = score(page.cards, Object.keys(READERS))
    console.table(rows)
    console.log(`DOM path: ${hits}/${total} fields right`, misses)
    expect(score(page.cards, [...CORE, 'metro_minutes', 'metro_mode', 'okrug', 'is_apartments']).misses).toEqual([])
    for (const card of page.cards) {
      expect(PropertySchema.safeParse(card).success).toBe(true)
      // The DOM has no coordinates: they must stay null, not be guessed.
      expect(card.lat).toBeNull()
      expect(card.year_built).toBeNull()
    }
  })
})

describe('parseCianSerp on a captcha page', () => {
  it('reports the block and returns no cards', () => {
    const captcha = readFileSync(new URL('cian-captcha-2024.html', PAGES), 'utf8')
    const outcome = parseCianSerp(captcha, 'https://www.cian.ru/cat.php?region=1')
    expect(outcome).toEqual({ blocked: true, site: 'cian', reason: 'captcha' })
  })
})
