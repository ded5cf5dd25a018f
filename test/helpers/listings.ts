import { emptyProperty, type Property } from '../../src/tasks/parse/property.ts'

/** The saved cian offer the end-to-end tests parse (126.4 m², 78 M ₽, ~617 k ₽/m², St Petersburg). */
export const TARGET_URL = 'https://spb.cian.ru/sale/flat/315831388/'

/** Synthetic St Petersburg flats around that target, for the offline listings store. */
export function spbAnalog(i: number, overrides: Partial<Property> = {}): Property {
  const area = 110 + i * 4
  const pricePerSqm = 560_000 + i * 15_000
  return {
    ...emptyProperty('cian', `https://spb.cian.ru/sale/flat/9000${i}/`),
    offer_id: `9000${i}`,
    title: `3-комн. квартира, ${area} м²`,
    deal_type: 'sale',
    property_type: 'flat',
    market: 'new_building',
    price: Math.round(area * pricePerSqm),
    currency: 'RUB',
    price_per_sqm: pricePerSqm,
    total_area: area,
    rooms: 3,
    floor: 3 + (i % 3),
    floors_total: 8,
    address: `Санкт-Петербург, Петроградский район, ул. Профессора Попова, ${10 + i}`,
    city: 'Санкт-Петербург',
    region: 'spb',
    district: 'Петроградский',
    metro: ['Чкаловская'],
    lat: 59.971 + i * 0.001,
    lon: 30.289,
    ...overrides,
  }
}

/**
 * Fills housler.listings with `count` synthetic flats (Moscow and St Petersburg, sale and rent,
 * spread over prices, areas, rooms, districts, metro and coordinates) in one statement, then
 * ANALYZEs, so the planner sees a realistic table. For the EXPLAIN test and the 1M-row bench.
 */
export const seedListingsSql = (count: number) => `
  INSERT INTO housler.listings (source, offer_id, url, region, deal_type, property_type, market, rooms, price,
    total_area, price_per_sqm, floor, floors_total, district, metro, residential_complex, address, street_norm, lat, lon, year_built, data)
  SELECT 'cian', 'seed-' || i, 'https://www.cian.ru/sale/flat/seed-' || i || '/',
    CASE WHEN i % 2 = 0 THEN 'msk' ELSE 'spb' END,
    CASE WHEN i % 5 = 0 THEN 'rent' ELSE 'sale' END,
    'flat', CASE WHEN i % 3 = 0 THEN 'new_building' ELSE 'secondary' END,
    rooms, (area * ppsqm)::bigint, area, ppsqm, 1 + i % 20, 20,
    'district-' || (i % 40), ARRAY['station-' || (i % 150)], CASE WHEN i % 7 = 0 THEN 'ЖК ' || (i % 500) END,
    'street ' || (i % 3000) || ', ' || (i % 90), 'street ' || (i % 3000),
    CASE WHEN i % 2 = 0 THEN 55.55 ELSE 59.80 END + (i % 1000) / 2500.0,
    CASE WHEN i % 2 = 0 THEN 37.40 ELSE 30.15 END + (i % 997) / 2000.0,
    1950 + i % 75,
    jsonb_build_object('source', 'cian', 'offer_id', 'seed-' || i, 'url', 'https://www.cian.ru/sale/flat/seed-' || i || '/',
      'title', rooms || '-комн. квартира', 'deal_type', CASE WHEN i % 5 = 0 THEN 'rent' ELSE 'sale' END, 'property_type', 'flat',
      'market', CASE WHEN i % 3 = 0 THEN 'new_building' ELSE 'secondary' END, 'is_active', true,
      'price', (area * ppsqm)::bigint, 'currency', 'RUB', 'price_per_sqm', ppsqm, 'total_area', area,
      'living_area', null, 'kitchen_area', null, 'land_area', null, 'rooms', rooms, 'floor', 1 + i % 20, 'floors_total', 20,
      'address', 'street ' || (i % 3000) || ', ' || (i % 90), 'city', CASE WHEN i % 2 = 0 THEN 'Москва' ELSE 'Санкт-Петербург' END,
      'region', CASE WHEN i % 2 = 0 THEN 'msk' ELSE 'spb' END, 'district', 'district-' || (i % 40),
      'metro', jsonb_build_array('station-' || (i % 150)), 'metro_details', '[]'::jsonb,
      'lat', CASE WHEN i % 2 = 0 THEN 55.55 ELSE 59.80 END + (i % 1000) / 2500.0,
      'lon', CASE WHEN i % 2 = 0 THEN 37.40 ELSE 30.15 END + (i % 997) / 2000.0,
      'year_built', 1950 + i % 75, 'completion_year', null, 'house_type', null, 'ceiling_height', null,
      'residential_complex', CASE WHEN i % 7 = 0 THEN 'ЖК ' || (i % 500) END, 'repair', null,
      'photos', '[]'::jsonb, 'description', null, 'characteristics', '{}'::jsonb)
  FROM (
    SELECT i, (i % 5)::smallint AS rooms, (25 + (i * 7919) % 150)::real AS area, (150000 + (i * 104729) % 450000)::real AS ppsqm
    FROM generate_series(1::bigint, ${Math.trunc(count)}) AS i
  ) s
  ON CONFLICT DO NOTHING;
  ANALYZE housler.listings;`
