import { emptyProperty, type Property } from '../../src/tasks/parse/property.ts'
import { readFixture } from './fixture-server.ts'

/**
 * BUILT test pages, not saved ones: the real saved Tyumen rental (cian offer 331090051) with its
 * city swapped for another, so every region of the region table can be tested end to end on a page
 * shaped exactly like a real cian offer. The oblast part of the address is dropped (we hold no
 * cian id for those oblasts) and its name replaced; the city's cian id is the table's.
 */
export type BuiltCity = { name: string; subdomain: string; code: string; cianId: number; oblast: string; offerId: string }

export const TYUMEN: BuiltCity = { name: 'Тюмень', subdomain: 'tyumen', code: 'tyumen', cianId: 5024, oblast: 'Тюменская область', offerId: '331090051' }

export const BUILT_CITIES: readonly BuiltCity[] = [
  { name: 'Казань', subdomain: 'kazan', code: 'kazan', cianId: 4777, oblast: 'Республика Татарстан', offerId: '910000001' },
  { name: 'Екатеринбург', subdomain: 'ekb', code: 'ekaterinburg', cianId: 4743, oblast: 'Свердловская область', offerId: '910000002' },
  { name: 'Новосибирск', subdomain: 'novosibirsk', code: 'novosibirsk', cianId: 4897, oblast: 'Новосибирская область', offerId: '910000003' },
  { name: 'Краснодар', subdomain: 'krasnodar', code: 'krasnodar', cianId: 4820, oblast: 'Краснодарский край', offerId: '910000004' },
  { name: 'Владивосток', subdomain: 'vladivostok', code: 'vladivostok', cianId: 4701, oblast: 'Приморский край', offerId: '910000005' },
]

export const rentalUrl = (city: BuiltCity) => `https://${city.subdomain}.cian.ru/rent/flat/${city.offerId}/`

/** The saved Tyumen page, or a page built from it for `city`. */
export function cianRentalPage(city: BuiltCity): string {
  const saved = readFixture('cian-offer-331090051.html')
  if (city === TYUMEN) return saved
  const built = saved
    .replace(/\{"fullName":"Тюменская область","id":4623,[^{}]*\},/g, '')
    .replaceAll('Тюменская область', city.oblast)
    .replaceAll('Тюменская', city.oblast)
    .replaceAll('Тюмень', city.name)
    .replaceAll('tyumen.cian.ru', `${city.subdomain}.cian.ru`)
    .replace(/("id"|"cityId"|city_id=|region=|-)5024(?=\D)/g, `$1${city.cianId}`)
    .replace(/obl_id=4623|"oblId":4623|"regionId":4623/g, (m) => m.replace('4623', '0'))
    .replaceAll('331090051', city.offerId)
  return `<!-- BUILT for tests from test/fixtures/pages/cian-offer-331090051.html: city ${city.name} -->\n${built}`
}

/** Built rentals in `city` around the Tyumen flat (1 room, 58 m², 28 000 ₽ a month), for the store. */
export function builtRentals(city: BuiltCity, count = 6): Property[] {
  return Array.from({ length: count }, (_, i) => {
    const area = 52 + i * 2
    return {
      ...emptyProperty('cian', `https://${city.subdomain}.cian.ru/rent/flat/92${city.offerId.slice(-3)}${i}/`),
      offer_id: `92${city.offerId.slice(-3)}${i}`,
      title: 'Сдаётся уютная квартира у парка!',
      deal_type: 'rent',
      property_type: 'flat',
      price: 25_000 + i * 1_200,
      currency: 'RUB',
      total_area: area,
      rooms: 1,
      floor: 3 + (i % 4),
      floors_total: 10,
      address: `${city.name}, ул. Ленина, ${10 + i}`,
      city: city.name,
      region: city.code,
      characteristics: { cian_city_id: String(city.cianId) },
    } satisfies Property
  })
}
