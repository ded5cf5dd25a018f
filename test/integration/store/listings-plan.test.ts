import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '../../../src/db/index.ts'
import { listingsSearchSql, searchListings, upsertListings } from '../../../src/store/index.ts'
import { baseQuery, type AnalogQuery } from '../../../src/tasks/find-similar/query.ts'
import { seedListingsSql, spbAnalog } from '../../helpers/listings.ts'
import { createTestDatabase } from '../../helpers/postgres.ts'

let database: Awaited<ReturnType<typeof createTestDatabase>>
let db: Db
const ROWS = 100_000

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ url: database.url, poolSize: 2 })
  await sql.raw(seedListingsSql(ROWS)).execute(db.db)
}, 120_000)
afterAll(async () => {
  await db.destroy()
  await database.drop()
})

const QUERIES: Array<[string, AnalogQuery]> = [
  ['citywide: rooms, price and area ranges', { ...baseQuery('spb', 'sale'), rooms: { min: 2, max: 2 }, price_min: 8e6, price_max: 12e6, area_min: 45, area_max: 60 }],
  ['nearby: a radius around a point', { ...baseQuery('msk', 'sale'), center: { lat: 55.7, lon: 37.6, radius_km: 1.5 } }],
  ['district', { ...baseQuery('spb', 'sale'), district: 'district-7' }],
  ['metro stations', { ...baseQuery('msk', 'sale'), metro: ['station-10', 'station-12'] }],
  ['same complex', { ...baseQuery('msk', 'sale'), residential_complex: 'ЖК 14' }],
  ['same street', { ...baseQuery('msk', 'sale'), street: 'Street 14', house_numbers: [] }],
]

async function explain(query: AnalogQuery): Promise<string> {
  const compiled = listingsSearchSql(query).compile(db.db)
  const plan = await db.pool.query(`EXPLAIN ${compiled.sql}`, compiled.parameters as unknown[])
  return plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n')
}

describe(`the listings store at ${ROWS.toLocaleString('en')} rows`, () => {
  it.each(QUERIES)('answers "%s" through an index, never a sequential scan', async (name, query) => {
    const plan = await explain(query)
    expect(plan).toMatch(/Index|Bitmap/)
    expect(plan).not.toMatch(/Seq Scan on listings/)
    const started = performance.now()
    const found = await searchListings(db.db, { ...query, limit: 20 })
    console.log(`${name}: ${found.length} found in ${(performance.now() - started).toFixed(1)} ms`)
    expect(found.length).toBeGreaterThan(0)
    for (const listing of found) expect(listing.region).toBe(query.region)
  })

  it('finds the few listings of a complex among many, past the candidate limit', async () => {
    await upsertListings(db.db, Array.from({ length: 3 }, (_, i) => spbAnalog(i, { offer_id: `c${i}`, url: `https://spb.cian.ru/sale/flat/c${i}/`, residential_complex: 'ЖК «Чёрная речка»' })))
    const found = await searchListings(db.db, { ...baseQuery('spb', 'sale'), residential_complex: 'Черная речка', limit: 2 })
    expect(found).toHaveLength(2)
    for (const listing of found) expect(['c0', 'c1', 'c2']).toContain(listing.offer_id)
  })
})
