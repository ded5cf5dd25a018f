import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { buildCianSearchUrl, cianRoomParams, cianSearchUrlForTarget } from '../../../src/tasks/find-similar/search-url.ts'
import { baseQuery, segmentTolerance } from '../../../src/tasks/find-similar/query.ts'

function flat(over: Partial<Property>): Property {
  return { ...emptyProperty('cian', 'https://www.cian.ru/sale/flat/1/'), deal_type: 'sale', property_type: 'flat', ...over }
}

function params(url: string): Record<string, string> {
  const u = new URL(url)
  expect(u.origin + u.pathname).toBe('https://www.cian.ru/cat.php')
  return Object.fromEntries(u.searchParams)
}

describe('segmentTolerance', () => {
  it('narrows with the price segment', () => {
    expect(segmentTolerance(350_000_000)).toEqual({ price: 0.15, area: 0.1 })
    expect(segmentTolerance(300_000_000)).toEqual({ price: 0.15, area: 0.1 })
    expect(segmentTolerance(120_000_000)).toEqual({ price: 0.2, area: 0.15 })
    expect(segmentTolerance(25_000_000)).toEqual({ price: 0.25, area: 0.2 })
    expect(segmentTolerance(24_999_999)).toEqual({ price: 0.4, area: 0.3 })
  })
})

describe('cianRoomParams', () => {
  it('maps studio to room9 and 6+ to room6', () => {
    expect(cianRoomParams(0, 0)).toEqual(['room9'])
    expect(cianRoomParams(0, 2)).toEqual(['room1', 'room2', 'room9'])
    expect(cianRoomParams(5, 8)).toEqual(['room5', 'room6'])
  })
})

describe('cianSearchUrlForTarget', () => {
  it('builds the main query for a Moscow secondary 2-room flat under 25 M (±40 % / ±30 %)', () => {
    const target = flat({ region: 'msk', price: 20_000_000, total_area: 50, rooms: 2, year_built: 1975, floor: 5, floors_total: 9 })
    expect(params(cianSearchUrlForTarget(target, { currentYear: 2025 }))).toEqual({
      deal_type: 'sale',
      engine_version: '2',
      offer_type: 'flat',
      region: '1',
      room2: '1',
      minprice: '12000000', // 20 M × 0.6
      maxprice: '28000000', // 20 M × 1.4
      mintarea: '35', // 50 × 0.7
      maxtarea: '65', // 50 × 1.3
      'object_type[0]': '1',
      is_first_floor: '0',
      floornl: '1',
    })
  })

  it('uses ±15 % / ±10 % for a 400 M new building in St Petersburg, page 3, and a studio', () => {
    const target = flat({ city: 'Санкт-Петербург', price: 400_000_000, total_area: 100, rooms: 0, completion_year: 2026 })
    const p = params(cianSearchUrlForTarget(target, { page: 3, currentYear: 2025 }))
    expect(p.region).toBe('2')
    expect(p.room9).toBe('1')
    expect([p.minprice, p.maxprice]).toEqual(['340000000', '460000000'])
    expect([p.mintarea, p.maxtarea]).toEqual(['90', '110'])
    expect(p['object_type[0]']).toBe('2')
    expect(p.p).toBe('3')
  })

  it('treats a house built within the last 2 years as new, and a first floor as first-only', () => {
    const target = flat({ region: 'msk', price: 30_000_000, total_area: 60, rooms: 3, year_built: 2023, floor: 1, floors_total: 17 })
    const p = params(cianSearchUrlForTarget(target, { currentYear: 2025 }))
    expect(p['object_type[0]']).toBe('2')
    expect(p.maxfloor).toBe('1')
    expect([p.minprice, p.maxprice, p.mintarea, p.maxtarea]).toEqual(['22500000', '37500000', '48', '72'])
  })

  it('adds type=4 for long-term rent and no market filter', () => {
    const target = flat({ region: 'msk', deal_type: 'rent', price: 80_000, total_area: 43, rooms: 2 })
    const p = params(cianSearchUrlForTarget(target, { currentYear: 2025 }))
    expect(p.deal_type).toBe('rent')
    expect(p.type).toBe('4')
    expect(p['object_type[0]']).toBeUndefined()
    expect([p.minprice, p.maxprice]).toEqual(['48000', '112000'])
  })

  it('refuses a target whose region is unknown', () => {
    expect(() => cianSearchUrlForTarget(flat({ price: 1 }))).toThrow(AppError)
  })
})

describe('buildCianSearchUrl', () => {
  it('leaves out every filter the query does not set', () => {
    expect(params(buildCianSearchUrl(baseQuery('spb', 'sale')))).toEqual({
      deal_type: 'sale',
      engine_version: '2',
      offer_type: 'flat',
      region: '2',
    })
  })

  it('refuses land and houses', () => {
    expect(() => buildCianSearchUrl({ ...baseQuery('msk', 'sale'), property_type: 'land' })).toThrow(/not supported/)
  })
})
