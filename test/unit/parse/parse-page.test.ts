import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { PropertySchema, type Property } from '../../../src/tasks/parse/property.ts'
import {
  CORE_FIELDS,
  formatScoreTable,
  scoreProperty,
  type Expected,
  type FieldScore,
} from '../../helpers/scoring.ts'

const PAGES_DIR = join(import.meta.dirname, '../../fixtures/pages')
const SCORED_SOURCES = new Set(['cian', 'avito', 'domclick'])

type Fixture = { name: string; html: string; expected: Expected }

function loadFixtures(): Fixture[] {
  return readdirSync(PAGES_DIR)
    .filter((file) => file.endsWith('.expected.json'))
    .map((file) => {
      const expected = JSON.parse(readFileSync(join(PAGES_DIR, file), 'utf8')) as Expected
      const html = readFileSync(join(PAGES_DIR, expected.fixture), 'utf8')
      return { name: file.replace('.expected.json', ''), html, expected }
    })
    .filter((fixture) => fixture.expected.page_kind !== 'serp')
}

/** The URL a fetcher would have asked for; blocked fixtures have none, so the site's root. */
function requestUrl(expected: Expected): string {
  return expected.url ?? `https://www.${expected.source}.ru/`
}

const fixtures = loadFixtures()
const offers = fixtures.filter((f) => f.expected.page_kind === 'offer')
const blocked = fixtures.filter((f) => f.expected.page_kind === 'blocked')
const results: Array<{ page: string; scores: FieldScore[] }> = []

function parseOffer(fixture: Fixture): Property {
  const outcome = parsePage(fixture.html, requestUrl(fixture.expected))
  if (outcome.blocked) throw new Error(`${fixture.name} parsed as blocked: ${outcome.reason}`)
  return outcome.property
}

describe('parsePage over the saved listing pages', () => {
  afterAll(() => {
    console.log(`\n${formatScoreTable(results)}\n`)
  })

  it('finds offer and blocked fixtures to score', () => {
    expect(offers.length).toBeGreaterThanOrEqual(4)
    expect(blocked.length).toBeGreaterThanOrEqual(2)
  })

  it.each(offers.map((f) => [f.name, f] as const))('%s: every core field is right', (_, fixture) => {
    const property = parseOffer(fixture)
    const scores = scoreProperty(property, fixture.expected)
    results.push({ page: fixture.name, scores })
    const core = scores.filter((s) => (CORE_FIELDS as readonly string[]).includes(s.field))
    expect(core.length).toBeGreaterThan(10)
    if (SCORED_SOURCES.has(fixture.expected.source)) {
      expect(core.filter((s) => s.verdict !== 'right')).toEqual([])
    }
  })

  it.each(offers.map((f) => [f.name, f] as const))('%s: invents nothing the page lacks', (_, fixture) => {
    const scores = scoreProperty(parseOffer(fixture), fixture.expected)
    expect(scores.filter((s) => s.verdict === 'invented')).toEqual([])
  })

  it.each(offers.map((f) => [f.name, f] as const))(
    '%s: mapped extras (price per m², ЖК, metro details, completion year, repair) are right',
    (_, fixture) => {
      const scores = scoreProperty(parseOffer(fixture), fixture.expected)
      expect(scores.filter((s) => s.field.startsWith('extra.') && s.verdict !== 'right')).toEqual([])
    },
  )

  it.each(offers.map((f) => [f.name, f] as const))('%s: output passes PropertySchema', (_, fixture) => {
    const property = parseOffer(fixture)
    expect(() => PropertySchema.parse(property)).not.toThrow()
    expect(property.source).toBe(fixture.expected.source)
    expect(property.photos.length).toBeLessThanOrEqual(30)
    expect(Object.keys(property.characteristics).length).toBeGreaterThan(3)
  })

  it.each(blocked.map((f) => [f.name, f] as const))('%s: is reported as blocked, with no listing', (_, fixture) => {
    const outcome = parsePage(fixture.html, requestUrl(fixture.expected))
    expect(outcome).toMatchObject({ blocked: true, site: fixture.expected.source })
    expect(outcome).not.toHaveProperty('property')
  })
})

describe('parsePage fixture specifics', () => {
  const byName = (name: string) => fixtures.find((f) => f.name === name)!

  it('keeps a new building deadline as completion_year, never year_built', () => {
    const property = parseOffer(byName('cian-offer-315831388'))
    expect(property.completion_year).toBe(2027)
    expect(property.year_built).toBeNull()
  })

  it('prefers the visible cian price per m² over the rounded state value', () => {
    expect(parseOffer(byName('cian-offer-315831388')).price_per_sqm).toBe(617089)
  })

  it('keeps the visible floors total when registry data in the state disagrees', () => {
    expect(parseOffer(byName('cian-offer-331090051')).floors_total).toBe(14)
  })

  it('derives a stable region slug from the city', () => {
    expect(parseOffer(byName('cian-offer-315831388')).region).toBe('spb')
    expect(parseOffer(byName('avito-item-7626114474')).region).toBe('tyumen')
    expect(parseOffer(byName('domclick-card-2078584220')).region).toBe('tyumen')
  })

  it('treats domclick living area 0 as unknown', () => {
    expect(parseOffer(byName('domclick-card-2078584220')).living_area).toBeNull()
  })

  it('says why a page was blocked', () => {
    const captcha = parsePage(byName('cian-captcha-2024').html, 'https://www.cian.ru/cat.php')
    const ipBlock = parsePage(byName('avito-blocked-ip-2026').html, 'https://www.avito.ru/moskva')
    expect(captcha.blocked && captcha.reason).toMatch(/^captcha/)
    expect(ipBlock.blocked && ipBlock.reason).toMatch(/^ip_block/)
  })
})

// Older layouts of the supported sites, as their markup is documented by scrapers written for them
// (cian's 2015 object_descr_* blocks, avito's itemprop microdata). No saved page of either is in the
// repo, so these are reconstructions of that markup, not captures.
describe('older layouts of the supported sites', () => {
  it('a 2015-era cian object_descr_* page: its visible facts, and the house number is never a room count', () => {
    const html = `<html><head><title>Продается 3-комнатная квартира, ул. Профсоюзная, 52к1 — ЦИАН</title></head><body>
      <div class="object_descr_title">3-комн. кв., 75 м²</div>
      <h1 class="object_descr_addr">Москва, р-н Черемушки, ул. Профсоюзная, 52к1</h1>
      <div class="object_descr_price" id="price_rur">12 500 000 руб.</div>
      <table class="object_descr_props flat sale" style="float:left">
        <tr><th>Этаж:</th><td>5 / 9</td></tr>
        <tr><th>Тип дома:</th><td>вторичка, панельный</td></tr>
        <tr><th>Общая площадь:</th><td>75 м²</td></tr>
        <tr><th>Жилая площадь:</th><td>44 м²</td></tr>
        <tr><th>Площадь кухни:</th><td>9 м²</td></tr>
      </table></body></html>`
    const outcome = parsePage(html, 'https://www.cian.ru/sale/flat/12345678/')
    if (outcome.blocked) throw new Error(outcome.reason)
    expect(outcome.property).toMatchObject({ source: 'cian', price: 12_500_000, currency: 'RUB', total_area: 75, living_area: 44, kitchen_area: 9, floor: 5, floors_total: 9 })
    expect(outcome.property.rooms).toBe(3)
  })

  it('an avito itemprop microdata page: price, address and params', () => {
    const html = `<html><head><title>2-к квартира, 54 м², 5/9 эт. — купить в Казани | Авито</title></head><body>
      <h1 class="title-info-title"><span class="title-info-title-text" itemprop="name">2-к квартира, 54 м², 5/9 эт.</span></h1>
      <div itemscope itemtype="http://schema.org/Product"><span itemprop="offers" itemscope itemtype="http://schema.org/Offer">
        <span itemprop="price" content="5400000">5 400 000</span><meta itemprop="priceCurrency" content="RUB"></span></div>
      <div itemprop="address" itemscope itemtype="http://schema.org/PostalAddress"><meta itemprop="addressLocality" content="Казань"><span itemprop="streetAddress">ул. Баумана, 10</span></div>
      <ul class="item-params-list"><li class="item-params-list-item">Этаж: 5 из 9</li><li class="item-params-list-item">Общая площадь: 54 м²</li><li class="item-params-list-item">Тип дома: кирпичный</li></ul>
      </body></html>`
    const outcome = parsePage(html, 'https://www.avito.ru/kazan/kvartiry/2-k_kvartira_54_m_59_et._1234567890')
    if (outcome.blocked) throw new Error(outcome.reason)
    expect(outcome.property).toMatchObject({ source: 'avito', price: 5_400_000, currency: 'RUB', total_area: 54, rooms: 2, floor: 5, floors_total: 9, house_type: 'кирпичный', city: 'Казань' })
  })
})
