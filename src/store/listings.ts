import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import { matchesQuery, normName, streetAndHouse, type AnalogQuery } from '../tasks/find-similar/query.ts'
import { resolveRegion } from '../tasks/find-similar/regions.ts'
import type { Property } from '../tasks/parse/property.ts'
import type { MarketHistory } from '../tasks/report/scenarios.ts'

/**
 * Upserts listings by source + offer id, keeping first/last seen and a history of price changes.
 * `page`: parsed from the listing's own page. A search card never replaces a page's facts: it
 * refreshes only the price.
 */
export async function upsertListings(db: Kysely<Database>, properties: readonly Property[], options: { page?: boolean } = {}): Promise<number> {
  const page = options.page === true
  const rows = properties.filter((p) => p.offer_id !== null)
  // One statement per listing keeps the price-history logic in SQL simple; batches are small (a page).
  for (const p of rows) {
    await sql`
      INSERT INTO housler.listings AS l (source, offer_id, url, region, deal_type, property_type, market, rooms, price,
        total_area, price_per_sqm, floor, floors_total, district, metro, residential_complex, address, street_norm, lat, lon,
        year_built, data, price_history, page_parsed_at)
      VALUES (${p.source}, ${p.offer_id}, ${p.url}, ${resolveRegion(p)}, ${p.deal_type}, ${p.property_type}, ${p.market},
        ${p.rooms}, ${p.price}, ${p.total_area}, ${pricePerSqm(p)}, ${p.floor}, ${p.floors_total}, ${p.district},
        ${p.metro}::text[], ${p.residential_complex}, ${p.address}, ${streetKey(p)}, ${p.lat}, ${p.lon}, ${p.year_built}, ${JSON.stringify(p)}::jsonb,
        ${JSON.stringify(p.price === null ? [] : [{ price: p.price, seen_at: new Date().toISOString() }])}::jsonb,
        CASE WHEN ${page} THEN now() END)
      ON CONFLICT (source, offer_id) DO UPDATE SET
        url = excluded.url, region = excluded.region, deal_type = excluded.deal_type, property_type = excluded.property_type,
        market = excluded.market, rooms = excluded.rooms, price = excluded.price, total_area = excluded.total_area,
        price_per_sqm = excluded.price_per_sqm, floor = excluded.floor, floors_total = excluded.floors_total,
        district = excluded.district, metro = excluded.metro, residential_complex = excluded.residential_complex,
        address = excluded.address, street_norm = excluded.street_norm, lat = excluded.lat, lon = excluded.lon,
        year_built = CASE WHEN ${page} OR l.page_parsed_at IS NULL THEN excluded.year_built ELSE l.year_built END,
        data = CASE WHEN ${page} OR l.page_parsed_at IS NULL THEN excluded.data
          ELSE l.data || jsonb_build_object('price', excluded.data->'price', 'price_per_sqm', excluded.data->'price_per_sqm') END,
        page_parsed_at = CASE WHEN ${page} THEN now() ELSE l.page_parsed_at END,
        last_seen = now(),
        price_history = CASE WHEN excluded.price IS DISTINCT FROM l.price AND excluded.price IS NOT NULL
          THEN l.price_history || excluded.price_history ELSE l.price_history END`.execute(db)
  }
  return rows.length
}

function streetKey(p: Property): string | null {
  const { street } = streetAndHouse(p)
  return street === null ? null : normName(street)
}

function pricePerSqm(p: Property): number | null {
  if (p.price_per_sqm !== null) return p.price_per_sqm
  return p.price !== null && p.total_area ? Math.round(p.price / p.total_area) : null
}

const KM_PER_DEGREE_LAT = 111.32
/** Listings not seen for this long are left out of analog searches. */
const STALE_AFTER_DAYS = 90

/** Every run of consecutive words of a name: the names a stored one may be, when ours contains it. */
function wordRuns(name: string): string[] {
  const words = name.split(' ').filter(Boolean).slice(0, 12)
  const runs: string[] = []
  for (let start = 0; start < words.length; start++) {
    for (let end = start + 1; end <= words.length; end++) runs.push(words.slice(start, end).join(' '))
  }
  return runs
}

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
    // by housler.norm_complex as normName compares them: the stored name containing ours is served
    // by the trigram index, the stored name being a run of our words by the btree one.
    const name = normName(q.residential_complex).replace(/^жк\s+/, '')
    const pattern = `%${name.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
    conditions.push(
      sql`residential_complex IS NOT NULL AND (housler.norm_complex(residential_complex) LIKE ${pattern} OR housler.norm_complex(residential_complex) = ANY(${wordRuns(name)}::text[]))`,
    )
  }
  if (q.street) conditions.push(sql`street_norm = ${normName(q.street)}`)
  if (q.center) {
    // A bounding box the geo index can use; the exact radius is checked by matchesQuery.
    const dLat = q.center.radius_km / KM_PER_DEGREE_LAT
    const dLon = q.center.radius_km / (KM_PER_DEGREE_LAT * Math.max(0.1, Math.cos((q.center.lat * Math.PI) / 180)))
    conditions.push(sql`lat BETWEEN ${q.center.lat - dLat} AND ${q.center.lat + dLat}`)
    conditions.push(sql`lon BETWEEN ${q.center.lon - dLon} AND ${q.center.lon + dLon}`)
  }
  // Prices older than this are not the market any more; a filter, not an ORDER BY, so an index scan
  // can stop at the LIMIT instead of sorting every match (ranking by similarity happens afterwards).
  conditions.push(sql`last_seen > now() - make_interval(days => ${STALE_AFTER_DAYS})`)
  const candidates = q.limit * 5
  return sql<{ data: Property }>`
    SELECT data FROM housler.listings WHERE ${sql.join(conditions, sql` AND `)}
    LIMIT ${candidates} OFFSET ${(q.page - 1) * candidates}`
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

/** Listings whose own page was parsed within `hours`: their facts need no new fetch. */
export async function findPagesParsedSince(db: Kysely<Database>, urls: readonly string[], hours: number): Promise<Property[]> {
  if (urls.length === 0) return []
  const result = await sql<{ data: Property }>`
    SELECT data FROM housler.listings
    WHERE url = ANY(${[...urls]}::text[]) AND page_parsed_at > now() - make_interval(hours => ${hours})`.execute(db)
  return result.rows.map((row) => row.data)
}

/** The market history of listings by URL, for time on market (report/scenarios.ts). */
export async function listingsHistory(db: Kysely<Database>, urls: readonly string[]): Promise<MarketHistory[]> {
  if (urls.length === 0) return []
  const result = await sql<MarketHistory & { first_seen: Date; last_seen: Date }>`
    SELECT url, price_per_sqm, last_seen, price_history,
      -- On the market since its publication when the site said when (cian), else since we first saw it.
      LEAST(first_seen, CASE WHEN data->>'published_at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' THEN (data->>'published_at')::timestamptz END) AS first_seen
    FROM housler.listings
    WHERE url = ANY(${[...urls]}::text[]) AND price_per_sqm IS NOT NULL`.execute(db)
  return result.rows.map((row) => ({
    url: row.url,
    price_per_sqm: Number(row.price_per_sqm),
    first_seen: new Date(row.first_seen).toISOString(),
    last_seen: new Date(row.last_seen).toISOString(),
    price_history: row.price_history,
  }))
}
