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
