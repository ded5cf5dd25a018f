import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import { matchesQuery, normName, type AnalogQuery } from '../tasks/find-similar/query.ts'
import { resolveRegion } from '../tasks/find-similar/regions.ts'
import type { Property } from '../tasks/parse/property.ts'

/** Upserts listings by source + offer id, keeping first/last seen and a history of price changes. */
export async function upsertListings(db: Kysely<Database>, properties: readonly Property[]): Promise<number> {
  const rows = properties.filter((p) => p.offer_id !== null)
  // One statement per listing keeps the price-history logic in SQL simple; batches are small (a page).
  for (const p of rows) {
    await sql`
      INSERT INTO housler.listings AS l (source, offer_id, url, region, deal_type, property_type, market, rooms, price,
        total_area, price_per_sqm, floor, floors_total, district, metro, residential_complex, address, lat, lon, year_built,
        data, price_history)
      VALUES (${p.source}, ${p.offer_id}, ${p.url}, ${resolveRegion(p)}, ${p.deal_type}, ${p.property_type}, ${p.market},
        ${p.rooms}, ${p.price}, ${p.total_area}, ${pricePerSqm(p)}, ${p.floor}, ${p.floors_total}, ${p.district},
        ${p.metro}::text[], ${p.residential_complex}, ${p.address}, ${p.lat}, ${p.lon}, ${p.year_built}, ${JSON.stringify(p)}::jsonb,
        ${JSON.stringify(p.price === null ? [] : [{ price: p.price, seen_at: new Date().toISOString() }])}::jsonb)
      ON CONFLICT (source, offer_id) DO UPDATE SET
        url = excluded.url, region = excluded.region, deal_type = excluded.deal_type, property_type = excluded.property_type,
        market = excluded.market, rooms = excluded.rooms, price = excluded.price, total_area = excluded.total_area,
        price_per_sqm = excluded.price_per_sqm, floor = excluded.floor, floors_total = excluded.floors_total,
        district = excluded.district, metro = excluded.metro, residential_complex = excluded.residential_complex,
        address = excluded.address, lat = excluded.lat, lon = excluded.lon, year_built = excluded.year_built,
        data = excluded.data, last_seen = now(),
        price_history = CASE WHEN excluded.price IS DISTINCT FROM l.price AND excluded.price IS NOT NULL
          THEN l.price_history || excluded.price_history ELSE l.price_history END`.execute(db)
  }
  return rows.length
}

function pricePerSqm(p: Property): number | null {
  if (p.price_per_sqm !== null) return p.price_per_sqm
  return p.price !== null && p.total_area ? Math.round(p.price / p.total_area) : null
}

const KM_PER_DEGREE_LAT = 111.32

/** Both spellings of a name: listings and targets disagree on ё. */
function spellings(names: readonly string[]): string[] {
  return [...new Set(names.flatMap((name) => [name, name.replace(/ё/g, 'е').replace(/Ё/g, 'Е')]))]
}

/**
 * The store's candidate query for an AnalogQuery: every filter the indexes can serve, in SQL, so the
 * LIMIT never cuts real matches (exported so a test can EXPLAIN exactly it).
 */
export function listingsSearchSql(q: AnalogQuery) {
  const conditions = [sql`region = ${q.region}`, sql`deal_type = ${q.deal_type}`]
  if (q.property_type) conditions.push(sql`property_type = ${q.property_type}`)
  if (q.market) conditions.push(sql`market = ${q.market}`)
  if (q.rooms) conditions.push(sql`rooms BETWEEN ${q.rooms.min} AND ${q.rooms.max}`)
  if (q.price_min !== null) conditions.push(sql`price >= ${q.price_min}`)
  if (q.price_max !== null) conditions.push(sql`price <= ${q.price_max}`)
  if (q.area_min !== null) conditions.push(sql`total_area >= ${q.area_min}`)
  if (q.area_max !== null) conditions.push(sql`total_area <= ${q.area_max}`)
  if (q.district) conditions.push(sql`lower(district) = lower(${q.district})`)
  if (q.metro.length > 0) conditions.push(sql`metro && ${spellings(q.metro)}::text[]`)
  if (q.residential_complex) {
    // ЖК names match when one contains the other ("Union Park" ⊂ "Union Park (Юнион Парк)"), compared
    // the way normName compares them: lower case, ё as е, no quotes, no leading "ЖК".
    const name = normName(q.residential_complex).replace(/^жк\s+/, '')
    const stored = sql`regexp_replace(translate(lower(residential_complex), 'ё«»"', 'е'), '^жк\s+', '')`
    conditions.push(sql`residential_complex IS NOT NULL AND (strpos(${stored}, ${name}) > 0 OR strpos(${name}, ${stored}) > 0)`)
  }
  if (q.street) conditions.push(sql`strpos(translate(lower(address), 'ё', 'е'), ${normName(q.street)}) > 0`)
  if (q.center) {
    // A bounding box the geo index can use; the exact radius is checked by matchesQuery.
    const dLat = q.center.radius_km / KM_PER_DEGREE_LAT
    const dLon = q.center.radius_km / (KM_PER_DEGREE_LAT * Math.max(0.1, Math.cos((q.center.lat * Math.PI) / 180)))
    conditions.push(sql`lat BETWEEN ${q.center.lat - dLat} AND ${q.center.lat + dLat}`)
    conditions.push(sql`lon BETWEEN ${q.center.lon - dLon} AND ${q.center.lon + dLon}`)
  }
  const candidates = q.limit * 5
  return sql<{ data: Property }>`
    SELECT data FROM housler.listings WHERE ${sql.join(conditions, sql` AND `)}
    ORDER BY last_seen DESC LIMIT ${candidates} OFFSET ${(q.page - 1) * candidates}`
}

/**
 * The analog query over the store: SQL narrows to a superset, then matchesQuery — the reference
 * meaning of every field — decides, so the store and the other sources can never disagree.
 */
export async function searchListings(db: Kysely<Database>, q: AnalogQuery): Promise<Property[]> {
  const result = await listingsSearchSql(q).execute(db)
  return result.rows
    .map((row) => row.data)
    .filter((p) => matchesQuery(p, q))
    .slice(0, q.limit)
}
