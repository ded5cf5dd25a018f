/**
 * Test helpers for the analog search: a small Moscow market around one target, and an in-memory
 * AnalogSource — a second real implementation of the interface (filters an array with the
 * reference `matchesQuery`), not a mock of anything.
 */
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { matchesQuery, type AnalogQuery } from '../../../src/tasks/find-similar/query.ts'
import type { AnalogSource } from '../../../src/tasks/find-similar/strategy.ts'

let seq = 1000

/** A Moscow secondary flat for sale; `street`/`house` go where the SERP parser puts them. */
export function listing(over: Partial<Property> & { street?: string; house?: string } = {}): Property {
  const id = String(seq++)
  const { street = 'улица Правды', house = '1', ...rest } = over
  const p: Property = {
    ...emptyProperty('cian', `https://www.cian.ru/sale/flat/${id}/`),
    offer_id: id,
    deal_type: 'sale',
    property_type: 'flat',
    market: 'secondary',
    price: 24_000_000,
    currency: 'RUB',
    total_area: 60,
    rooms: 2,
    floor: 5,
    floors_total: 17,
    region: 'msk',
    city: 'Москва',
    year_built: 2012,
    ...rest,
  }
  p.characteristics = { ...p.characteristics, street, house }
  if (over.address === undefined) p.address = `Москва, ${street}, ${house}`
  if (p.price !== null && p.total_area !== null) p.price_per_sqm = Math.round((p.price / p.total_area) * 100) / 100
  return p
}

/** Listings matching the query, plus `alsoReturned` (what a real site mixes in: ads, other regions). */
export function createMemorySource(listings: readonly Property[], alsoReturned: readonly Property[] = []) {
  const queries: AnalogQuery[] = []
  const source: AnalogSource = {
    async search(query: AnalogQuery, signal?: AbortSignal) {
      signal?.throwIfAborted()
      queries.push(query)
      const start = (query.page - 1) * query.limit
      return [...listings.filter((p) => matchesQuery(p, query)).slice(start, start + query.limit), ...alsoReturned]
    },
  }
  return { source, queries }
}
