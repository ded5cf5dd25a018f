import { describe, expect, it } from 'vitest'
import { neighbouringStations } from '../../../src/tasks/find-similar/metro.ts'
import { findAnalogs, type SearchStep } from '../../../src/tasks/find-similar/strategy.ts'
import { createMemorySource, listing } from './listings.ts'

// Target: 2-room, 60 m², 24 M (400 000 ₽/m²), 5/17, ЖК «Правда», улица Правды 10, м. Белорусская.
const target = listing({
  street: 'улица Правды',
  house: '10',
  residential_complex: 'Правда',
  metro: ['Белорусская'],
  district: 'Беговой',
  lat: 55.785,
  lon: 37.58,
})

// The market around it.
const inComplex = [
  listing({ residential_complex: 'ЖК «Правда»', street: 'улица Правды', house: '10', rooms: 1, total_area: 40, price: 16_400_000 }),
  listing({ residential_complex: 'Правда (Pravda)', street: 'улица Правды', house: '10к1', rooms: 3, total_area: 90, price: 36_900_000 }),
  listing({ residential_complex: 'Правда', street: 'улица Правды', house: '10к2', total_area: 61, price: 24_000_000 }),
]
// price 110 M / 24 M = 4.6 ≤ 5 passes the ЖК limit, area 200 / 60 = 3.3 > 3 does not
const complexTooBig = listing({ residential_complex: 'Правда', house: '10к2', total_area: 200, price: 110_000_000 })
const neighbourHouses = [
  listing({ street: 'улица Правды', house: '12', price: 23_500_000, total_area: 58, lat: 55.786, lon: 37.582 }),
  listing({ street: 'улица Правды', house: '8к1', price: 25_000_000, total_area: 62, lat: 55.784, lon: 37.578 }),
]
const farOnStreet = listing({ street: 'улица Правды', house: '40', price: 24_500_000 })
const atStation = [
  listing({ street: 'Ленинградский проспект', house: '5', metro: ['Белорусская'], price: 22_000_000, total_area: 57 }),
  listing({ street: 'Грузинский Вал', house: '11', metro: ['Белорусская'], price: 26_000_000, total_area: 63, floor: 2 }),
]
const atNeighbourStation = [
  listing({ street: 'Тверская-Ямская', house: '20', metro: ['Маяковская'], price: 27_000_000, total_area: 64 }),
  listing({ street: 'улица Лесная', house: '3', metro: ['Новослободская'], price: 23_000_000, total_area: 59 }),
]
const inDistrict = listing({ street: 'Беговая улица', house: '2', metro: ['Беговая'], district: 'Беговой', price: 21_000_000, total_area: 55 })
const elsewhere3Rooms = listing({ street: 'Профсоюзная улица', house: '100', metro: ['Калужская'], rooms: 3, total_area: 70, price: 25_000_000 })
const elsewhere5Rooms = listing({ street: 'Профсоюзная улица', house: '102', metro: ['Калужская'], rooms: 5, total_area: 70, price: 25_000_000 })
// 515 385 ₽/m² = +28.8 %: dear, but inside the 30 % guard and the ±40 % price window
const pricey = listing({ street: 'Ленинградский проспект', house: '7', metro: ['Белорусская'], price: 33_500_000, total_area: 65 })
const sameFlatOtherAgent = { ...neighbourHouses[0], url: 'https://www.cian.ru/sale/flat/999999/', offer_id: '999999' }
const market = [target, ...inComplex, complexTooBig, ...neighbourHouses, farOnStreet, ...atStation, ...atNeighbourStation, inDistrict, elsewhere3Rooms, elsewhere5Rooms, pricey, sameFlatOtherAgent]

// What a real site mixes into any result page.
const spbAd = listing({ region: 'spb', city: 'Санкт-Петербург', address: 'Санкт-Петербург, Невский проспект, 1', street: 'Невский проспект' })
const noRegion = listing({ region: null, city: null, address: 'ул. Правды, 10' })
const crazyPrice = listing({ price: 240_000_000, total_area: 62 }) // 10× the target

const urls = (xs: { url: string }[]) => xs.map((x) => x.url).sort()

describe('findAnalogs', () => {
  it('same_complex keeps every flat of the ЖК whatever its size and drops the junk', async () => {
    const { source, queries } = createMemorySource(market, [spbAd, noRegion, crazyPrice])
    const r = await findAnalogs(target, 'same_complex', source, { limit: 10, currentYear: 2025 })
    expect(queries[0].residential_complex).toBe('Правда')
    expect(queries[0].rooms).toBeNull()
    expect(urls(r.analogs)).toEqual(urls(inComplex))
    expect(r.analogs.every((a) => a.reasons.some((x) => x.startsWith('тот же ЖК')))).toBe(true)
    expect(r.rejected.map((x) => [x.url, x.reason]).sort()).toEqual(
      [
        [target.url, 'target_itself'],
        [complexTooBig.url, 'area_ratio'],
        [spbAd.url, 'other_region'],
        [noRegion.url, 'unknown_region'],
        [crazyPrice.url, 'price_ratio'],
      ].sort(),
    )
  })

  it('same_building keeps only the target house', async () => {
    const { source } = createMemorySource(market)
    const r = await findAnalogs(target, 'same_building', source, { currentYear: 2025 })
    expect(urls(r.analogs)).toEqual(urls([inComplex[0]]))
    expect(r.rejected).toEqual([{ url: target.url, offer_id: target.offer_id, reason: 'target_itself', deal_type: target.deal_type, city: target.city }])
  })

  it('nearby searches the radius, exact rooms, and drops the same flat listed twice', async () => {
    const { source, queries } = createMemorySource(market)
    const r = await findAnalogs(target, 'nearby', source, { limit: 10, currentYear: 2025 })
    expect(queries[0].center).toEqual({ lat: 55.785, lon: 37.58, radius_km: 1.5 })
    expect(queries[0].rooms).toEqual({ min: 2, max: 2 })
    // only listings with coordinates can be "nearby"; then the street step adds houses ±2 (not house 40)
    expect(urls(r.analogs)).toEqual(urls([...neighbourHouses, inComplex[2]]))
    expect(r.rejected.map((x) => x.reason)).toContain('duplicate_listing')
    expect(r.analogs.map((a) => a.url)).not.toContain(farOnStreet.url)
    expect(r.steps.map((s) => s.name)).toEqual(['nearby', 'same_street'])
  })

  it('district keeps the district only', async () => {
    const { source } = createMemorySource(market)
    const r = await findAnalogs(target, 'district', source, { currentYear: 2025 })
    expect(urls(r.analogs)).toEqual(urls([inDistrict]))
  })

  it('citywide widens rooms to ±1 but not to 5 rooms', async () => {
    const { source, queries } = createMemorySource(market)
    const r = await findAnalogs(target, 'citywide', source, { limit: 30, currentYear: 2025 })
    expect(queries[0].rooms).toEqual({ min: 1, max: 3 })
    const got = r.analogs.map((a) => a.url)
    expect(got).toContain(elsewhere3Rooms.url)
    expect(got).not.toContain(elsewhere5Rooms.url)
    expect(got).not.toContain(target.url)
    // 1-room 40 m² in the ЖК: area 60/40 = 1.5 passes; 3-room 90 m²: 1.5 passes. No duplicates of the same flat.
    expect(new Set(got).size).toBe(got.length)
    expect(got.filter((u) => u === neighbourHouses[0].url || u === sameFlatOtherAgent.url)).toHaveLength(1)
  })

  it('auto climbs the ladder until it has enough, reporting each step', async () => {
    const { source } = createMemorySource(market, [spbAd])
    const seen: SearchStep[] = []
    const r = await findAnalogs(target, 'auto', source, { limit: 8, currentYear: 2025, onStep: (s) => void seen.push(s) })
    expect(seen).toEqual(r.steps)
    const names = r.steps.map((s) => s.name)
    expect(names.slice(0, 3)).toEqual(['same_complex', 'same_building', 'same_street'])
    // 3 in the ЖК (< 5, go on), 0 new in the building (re-found), +2 on the street (houses 8к1, 12; the
    // same flat of house 12 listed again is a duplicate), +3 at Белорусская (floors 5, 2, 5 of 17 are all
    // "middle") = 8 = limit after "main": the ladder stops before the neighbouring stations.
    expect(names).toEqual(['same_complex', 'same_building', 'same_street', 'main'])
    expect(r.analogs).toHaveLength(8)
    expect(r.analogs[0].reasons).toContain('тот же ЖК «Правда»')
    expect(r.rejected.map((x) => x.reason)).toEqual(expect.arrayContaining(['other_region', 'target_itself']))
    expect(r.steps.at(-1)?.total_kept).toBe(8)
  })

  it('auto goes on to neighbouring stations and the district when the station is thin', async () => {
    const { source } = createMemorySource(market)
    const r = await findAnalogs(target, 'auto', source, { limit: 11, currentYear: 2025 })
    const names = r.steps.map((s) => s.name)
    expect(names).toContain('neighbouring_metro')
    const got = r.analogs.map((a) => a.url)
    expect(got).toEqual(expect.arrayContaining(urls(atNeighbourStation)))
    expect(got).not.toContain(target.url)
  })

  it('skips steps it has no data for and stops cleanly without a region', async () => {
    const { source } = createMemorySource(market)
    const bare = listing({ residential_complex: null, metro: [], district: null })
    const r = await findAnalogs(bare, 'auto', source, { currentYear: 2025 })
    expect(r.steps[0]).toMatchObject({ name: 'same_complex', skipped: 'ЖК объекта неизвестен' })
    const lost = await findAnalogs({ ...bare, region: null, city: null, address: null }, 'auto', source)
    expect(lost.analogs).toEqual([])
    expect(lost.steps[0].skipped).toBe('регион объекта не определён: нет города в объявлении, адреса, города в ссылке')
  })

  it('stops when the signal is aborted', async () => {
    const { source } = createMemorySource(market)
    const ac = new AbortController()
    ac.abort(new Error('canceled'))
    await expect(findAnalogs(target, 'auto', source, { signal: ac.signal })).rejects.toThrow('canceled')
  })
})

describe('neighbouringStations', () => {
  it('knows the ring and the radial neighbours, in Moscow and St Petersburg separately', () => {
    expect(neighbouringStations('msk', ['Белорусская']).sort()).toEqual(
      ['Динамо', 'Маяковская', 'Новослободская', 'Краснопресненская'].sort(),
    )
    expect(neighbouringStations('spb', ['Спортивная']).sort()).toEqual(['Адмиралтейская', 'Чкаловская'].sort())
    expect(neighbouringStations('msk', ['Нет такой'])).toEqual([])
    expect(neighbouringStations('ekb', ['Площадь 1905 года'])).toEqual([])
  })
})
