import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Every listing the service has seen (parsed targets and search-result cards), one row per
    -- site + offer id. The columns the analog search filters on are copied out of the JSON.
    CREATE TABLE housler.listings (
      source              text NOT NULL,
      offer_id            text NOT NULL,
      url                 text NOT NULL,
      region              text,
      deal_type           text,
      property_type       text,
      market              text,
      rooms               smallint,
      price               bigint,
      total_area          real,
      price_per_sqm       real,
      floor               smallint,
      floors_total        smallint,
      district            text,
      metro               text[] NOT NULL DEFAULT '{}',
      residential_complex text,
      address             text,
      -- The street as the analog search compares it (normName of streetAndHouse), for same-street steps.
      street_norm         text,
      lat                 double precision,
      lon                 double precision,
      year_built          smallint,
      data                jsonb NOT NULL,
      first_seen          timestamptz NOT NULL DEFAULT now(),
      last_seen           timestamptz NOT NULL DEFAULT now(),
      -- [{price, seen_at}] appended whenever the price changes.
      price_history       jsonb NOT NULL DEFAULT '[]',
      PRIMARY KEY (source, offer_id)
    )
  `.execute(db)
  // Indexes for the analog search at a million rows: every strategy filters region + deal type first.
  await sql`CREATE INDEX listings_search_idx ON housler.listings (region, deal_type, rooms, price)`.execute(db)
  await sql`CREATE INDEX listings_area_idx ON housler.listings (region, deal_type, total_area)`.execute(db)
  await sql`CREATE INDEX listings_geo_idx ON housler.listings (region, lat, lon) WHERE lat IS NOT NULL`.execute(db)
  await sql`CREATE INDEX listings_district_idx ON housler.listings (region, lower(district)) WHERE district IS NOT NULL`.execute(db)
  // ЖК names match when one contains the other, compared lower-case, ё as е, without quotes and
  // a leading "ЖК": a trigram index serves "stored contains the name", a btree "stored is a part of it".
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db)
  await sql`
    CREATE FUNCTION housler.norm_complex(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN regexp_replace(translate(lower(name), 'ё«»"', 'е'), '^жк\s+', '')`.execute(db)
  await sql`CREATE INDEX listings_complex_idx ON housler.listings (region, housler.norm_complex(residential_complex)) WHERE residential_complex IS NOT NULL`.execute(db)
  await sql`CREATE INDEX listings_complex_trgm_idx ON housler.listings USING gin (housler.norm_complex(residential_complex) gin_trgm_ops) WHERE residential_complex IS NOT NULL`.execute(db)
  await sql`CREATE INDEX listings_metro_idx ON housler.listings USING gin (metro)`.execute(db)
  await sql`CREATE INDEX listings_url_idx ON housler.listings (url)`.execute(db)
  await sql`CREATE INDEX listings_street_idx ON housler.listings (region, street_norm) WHERE street_norm IS NOT NULL`.execute(db)

  await sql`
    -- The user's working session, as the original product kept it: the target and its analogs.
    CREATE TABLE housler.sessions (
      session_id  text PRIMARY KEY,
      target_url  text,
      target      jsonb,
      comparables jsonb,
      report_id   uuid,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db)

  await sql`
    CREATE TABLE housler.reports (
      id         uuid PRIMARY KEY,
      job_id     uuid,
      session_id text,
      valuation  jsonb NOT NULL,
      html       text NOT NULL,
      markdown   text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db)
  await sql`CREATE INDEX reports_session_idx ON housler.reports (session_id, created_at DESC)`.execute(db)
  await sql`COMMENT ON TABLE housler.listings IS 'Listings seen by parse and find-similar; the store the analog search queries offline.'`.execute(db)
  await sql`COMMENT ON TABLE housler.sessions IS 'One row per client session: target property and URL, chosen comparables, last report.'`.execute(db)
  await sql`COMMENT ON TABLE housler.reports IS 'Rendered valuation reports, served at GET /api/reports/:id (HTML) and ?format=md.'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE housler.reports, housler.sessions, housler.listings`.execute(db)
  await sql`DROP FUNCTION housler.norm_complex(text)`.execute(db)
}
