import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildCianSearchUrl } from '../../../src/tasks/find-similar/search-url.ts'
import { mainQueryFor } from '../../../src/tasks/find-similar/query.ts'
import {
  cianLocationFor,
  findRegion,
  ID_SOURCES,
  missingRegionFacts,
  OBLASTS,
  REGIONS,
  resolveRegion,
} from '../../../src/tasks/find-similar/regions.ts'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'

const PAGES = join(import.meta.dirname, '../../fixtures/pages')

function parsed(file: string, url: string): Property {
  const outcome = parsePage(readFileSync(join(PAGES, file), 'utf8'), url)
  if (outcome.blocked) throw new Error(`${file} parsed as blocked`)
  return outcome.property
}

function at(city: string | null, address: string | null = null): Property {
  return { ...emptyProperty('avito', 'https://www.avito.ru/x/kvartiry/1'), city, address, deal_type: 'sale', price: 5_000_000, total_area: 40, rooms: 1 }
}

describe('the region table', () => {
  it('holds at least 100 cities with unique codes and cian ids', () => {
    expect(REGIONS.length).toBeGreaterThanOrEqual(100)
    expect(new Set(REGIONS.map((r) => r.code)).size).toBe(REGIONS.length)
    expect(new Set(REGIONS.map((r) => r.cianId)).size).toBe(REGIONS.length)
  })

  it('resolves every entry from each of its names, alone and as an address part', () => {
    for (const region of REGIONS) {
      for (const name of region.names) {
        expect(resolveRegion({ region: null, city: name, address: null }), name).toBe(region.code)
        expect(findRegion(name)?.cianId, name).toBe(region.cianId)
      }
      expect(resolveRegion({ region: null, city: null, address: `Россия, ${region.name}, ул. Ленина, 1` }), region.name).toBe(region.code)
      expect(cianLocationFor(at(region.name))).toEqual({ id: region.cianId, level: 'city', name: region.name })
    }
  })

  it('cites where every id came from', () => {
    for (const entry of [...REGIONS, ...OBLASTS]) {
      expect(Object.keys(ID_SOURCES), entry.name).toContain(entry.source)
      expect(ID_SOURCES[entry.source].length).toBeGreaterThan(20)
    }
  })

  it('agrees with the ids the saved real cian pages carry', () => {
    const tyumen = parsed('cian-offer-331090051.html', 'https://tyumen.cian.ru/rent/flat/331090051/')
    expect(tyumen.characteristics).toMatchObject({ cian_city_id: '5024', cian_region_id: '4623' })
    expect(findRegion('Тюмень')?.cianId).toBe(5024)
    expect(OBLASTS.find((o) => o.name === 'Тюменская область')?.cianId).toBe(4623)
    const spb = parsed('cian-offer-315831388.html', 'https://spb.cian.ru/sale/flat/315831388/')
    expect(spb.characteristics.cian_city_id).toBe('2')
    expect(resolveRegion(spb)).toBe('spb')
  })

  it('gives a Tyumen listing from every site the same region and searches cian in Tyumen', () => {
    const cian = parsed('cian-offer-331090051.html', 'https://tyumen.cian.ru/rent/flat/331090051/')
    const avito = parsed('avito-item-7626114474.html', 'https://www.avito.ru/tyumen/kvartiry/1-k._kvartira_50_m_516_et._7626114474')
    const domclick = parsed('domclick-card-2078584220.html', 'https://tyumen.domclick.ru/card/rent__flat__2078584220')
    for (const p of [cian, avito, domclick]) {
      expect(resolveRegion(p), p.url).toBe('tyumen')
      const q = mainQueryFor(p, 2026)
      expect(new URL(buildCianSearchUrl(q!)).searchParams.get('region'), p.url).toBe('5024')
    }
  })
})

describe('a city the table lacks', () => {
  it("searches the city id its own cian page gave", () => {
    const p = { ...at('Ишим'), characteristics: { cian_city_id: '5123', cian_region_id: '4623' } }
    expect(cianLocationFor(p)).toEqual({ id: 5123, level: 'city', name: 'Ишим' })
  })

  it('falls back to the oblast named in the address, never to another region', () => {
    const p = at('Ишим', 'Тюменская обл., Ишим, ул. Карла Маркса, 1')
    expect(resolveRegion(p)).toBe('ishim')
    expect(cianLocationFor(p)).toEqual({ id: 4623, level: 'oblast', name: 'Тюменская область' })
  })

  it('is reported as not covered when neither the city nor its oblast has an id', () => {
    const p = at('Нижний Тагил', 'Свердловская обл., Нижний Тагил, ул. Ленина, 1')
    expect(resolveRegion(p)).toBe('nizhniy-tagil')
    expect(cianLocationFor(p)).toBeNull()
    expect(() => buildCianSearchUrl(mainQueryFor(p, 2026)!)).toThrow(/no cian location id/)
  })

  it('names the facts missing when the region cannot be told at all', () => {
    expect(missingRegionFacts(at(null, 'ул. Ленина, 1'))).toEqual(['города в объявлении', 'известного города в адресе «ул. Ленина, 1»', 'города в ссылке'])
    expect(missingRegionFacts(at('Казань'))).toEqual([])
  })
})
