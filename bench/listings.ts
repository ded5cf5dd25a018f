// node bench/listings.ts [--rows N]: the analog store's queries at a million listings: p50/p99 and the plan.
import { sql } from 'kysely'
import { PgBoss } from 'pg-boss'
import { createDb, migrateToLatest } from '../src/db/index.ts'
import { listingsSearchSql, searchListings } from '../src/store/index.ts'
import type { AnalogQuery } from '../src/tasks/find-similar/query.ts'
import { buildStepQuery, type StepName } from '../src/tasks/find-similar/strategy.ts'
import { emptyProperty, type Property } from '../src/tasks/parse/property.ts'
import { seedListingsSql } from '../test/helpers/listings.ts'
import { createDatabase, dropDatabase, percentile } from './lib.ts'

/** A target like the seeded flats; each strategy step's query is built for it exactly as findAnalogs builds it. */
const TARGET: Property = {
  ...emptyProperty('cian', 'https://spb.cian.ru/sale/flat/1/'),
  deal_type: 'sale', property_type: 'flat', market: 'secondary', region: 'spb', city: 'Санкт-Петербург',
  price: 16_500_000, total_area: 55, rooms: 2, floor: 5, floors_total: 20, year_built: 1990,
  district: 'district-7', metro: ['station-7'], residential_complex: 'ЖК 123', address: 'street 77, 7',
  lat: 59.95, lon: 30.35,
}
const STEPS: StepName[] = ['same_complex', 'same_building', 'same_street', 'nearby', 'main', 'district', 'citywide']
const QUERIES: Array<[string, AnalogQuery]> = STEPS.flatMap((step) => {
  const built = buildStepQuery(TARGET, step, 60, 2026)
  return 'query' in built ? [[step, built.query] as [string, AnalogQuery]] : []
})

export async function runListingsBench(adminUrl: string, rows = 1_000_000, samples = 50) {
  const name = 'housler_bench_listings'
  const url = await createDatabase(adminUrl, name)
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, registerInstance: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false })
  const db = createDb({ url, poolSize: 2 })
  try {
    const migrated = await migrateToLatest(db.db)
    if (migrated.error) throw migrated.error
    const seeded = performance.now()
    await sql.raw(seedListingsSql(rows)).execute(db.db)
    const seedSeconds = (performance.now() - seeded) / 1000
    const results = []
    for (const [label, query] of QUERIES) {
      const compiled = listingsSearchSql(query).compile(db.db)
      const plan = (await db.pool.query(`EXPLAIN ${compiled.sql}`, compiled.parameters as unknown[])).rows.map((r) => r['QUERY PLAN']).join(' ')
      const index = plan.match(/(?:Index|Bitmap Index) Scan (?:using|on) (\w+)/)?.[1] ?? (plan.includes('Seq Scan') ? 'SEQ SCAN' : '?')
      const times: number[] = []
      let found = 0
      for (let i = 0; i < samples; i++) {
        const started = performance.now()
        found = (await searchListings(db.db, query)).length
        times.push(performance.now() - started)
      }
      results.push({ query: label, found, index, p50_ms: +percentile(times, 50).toFixed(2), p99_ms: +percentile(times, 99).toFixed(2) })
    }
    return { rows, seedSeconds: +seedSeconds.toFixed(1), results }
  } finally {
    await db.destroy()
    await dropDatabase(adminUrl, name)
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2)
  const rows = argv.includes('--rows') ? Number(argv[argv.indexOf('--rows') + 1]) : 1_000_000
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const { seedSeconds, results } = await runListingsBench(adminUrl, rows)
  console.log(`listings store at ${rows.toLocaleString('en')} rows (seeded in ${seedSeconds} s), the strategy steps' queries for one target × 50`)
  console.table(results)
}
