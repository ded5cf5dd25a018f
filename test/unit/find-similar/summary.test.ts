import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { findAnalogs, type AnalogSource } from '../../../src/tasks/find-similar/strategy.ts'
import { summarizeSearch } from '../../../src/tasks/find-similar/summary.ts'

function flat(url: string, over: Partial<Property>): Property {
  return { ...emptyProperty('cian', url), property_type: 'flat', rooms: 2, total_area: 50, price: 10_000_000, floor: 3, floors_total: 9, ...over }
}

const target = flat('https://spb.cian.ru/sale/flat/1/', { deal_type: 'sale', city: 'Санкт-Петербург', region: 'spb', address: 'Санкт-Петербург, ул. Марата, 1' })
const moscowRentals = Array.from({ length: 4 }, (_, i) =>
  flat(`https://www.cian.ru/rent/flat/${100 + i}/`, { deal_type: 'rent', city: 'Москва', region: 'msk', price: 80_000, address: `Москва, ул. Тверская, ${i + 1}` }),
)
const source = (cards: Property[]): AnalogSource => ({ search: async () => cards })

describe('summarizeSearch', () => {
  it('counts what was found, why it was left out and what it was; the target found again is not counted', async () => {
    const result = await findAnalogs(target, 'citywide', source([...moscowRentals, target]))
    const summary = summarizeSearch(target, 'citywide', result.steps, result.rejected, [])
    expect(summary).toMatchObject({
      searched: 1,
      found: 4,
      kept: 0,
      rejected: 4,
      rejected_by_reason: { other_region: 4 },
      rejected_deal_types: { rent: 4 },
      rejected_cities: { Москва: 4 },
      wider_strategy: null,
      region: { code: 'spb', city: 'Санкт-Петербург', searched_in: { level: 'city', cian_id: 2 }, missing_facts: [] },
    })
    expect(summary.steps).toEqual([{ name: 'citywide', label: 'по всему городу', skipped: null, found: 5, kept: 0, rejected: 5 }])
  })

  it('offers a wider strategy only when one exists and can run for this target', async () => {
    const steps = (await findAnalogs(target, 'same_building', source([]))).steps
    expect(summarizeSearch(target, 'same_building', steps, [], []).wider_strategy).toBe('nearby')
    expect(summarizeSearch(target, 'nearby', steps, [], []).wider_strategy).toBe('citywide') // no district known: skip it
    expect(summarizeSearch({ ...target, district: 'Центральный' }, 'nearby', steps, [], []).wider_strategy).toBe('district')
    expect(summarizeSearch(target, 'auto', steps, [], []).wider_strategy).toBeNull()
  })

  it('names the missing facts when the region is unknown, and offers nothing wider', async () => {
    const lost = { ...target, city: null, region: null, address: 'ул. Марата, 1' }
    const result = await findAnalogs(lost, 'district', source(moscowRentals))
    const summary = summarizeSearch(lost, 'district', result.steps, result.rejected, [])
    expect(summary.region).toMatchObject({ code: null, searched_in: null })
    expect(summary.region.missing_facts).toContain('города в объявлении')
    expect(summary.wider_strategy).toBeNull()
    expect(summary.searched).toBe(0)
  })
})
