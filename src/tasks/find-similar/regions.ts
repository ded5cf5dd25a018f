/**
 * @module Regions: where a listing is, as one comparable code, and cian's own location id to search there.
 *
 * A region code is the city's Latin slug (`msk`, `spb`, `tyumen`, `kazan`, `ekaterinburg`…) made by
 * `regionFromCity` (parse/sites/region.ts), so cian, avito and domclick listings of one city compare
 * equal. The analog search needs cian's numeric location id (`cat.php?region=<id>`): a cian listing
 * names it on its own page (the parser keeps it as `characteristics.cian_city_id`, its oblast as
 * `cian_region_id`); for other listings the table below holds the ids of the largest Russian cities,
 * each with where the id was read. A city with no id is searched by its oblast when a page named the
 * oblast's id, and otherwise reported as not covered — never searched in another region.
 */
import type { Property } from '../parse/property.ts'
import { regionFromCity } from '../parse/sites/region.ts'

/** Where each id was read: a saved real page, or a public cian client that lists cian's own ids. */
export const ID_SOURCES = {
  MOSCOW_SERP: 'test/fixtures/pages/cian-serp-rent-moscow-2023.html: its search URL says region=1 and its cards oblId 1',
  SPB_OFFER: 'test/fixtures/pages/cian-offer-315831388.html: geo.cityId 2 (city_id=2), geo.regionId 4588 = Ленинградская область',
  TYUMEN_OFFER: 'test/fixtures/pages/cian-offer-331090051.html: geo.address Тюмень id 5024 (locationTypeId 1), Тюменская область id 4623 (locationTypeId 2)',
  CIANPARSER: 'github.com/lenarsaitov/cianparser, cianparser/constants.py CITIES: the region= ids that cian search client sends',
} as const
export type IdSource = keyof typeof ID_SOURCES

export type Region = {
  /** Comparable code: regionFromCity(name). */
  code: string
  /** The city as cian and addresses name it. */
  name: string
  /** Lower-case spellings an address or URL may use, the name first. */
  names: readonly string[]
  /** cian's location id of the city (`cat.php?region=`). */
  cianId: number
  source: IdSource
}

/** A cian location to search: a city, or the oblast when only that is known. */
export type CianLocation = { id: number; level: 'city' | 'oblast'; name: string | null }

const ALIASES: Record<string, readonly string[]> = {
  Москва: ['moscow', 'msk'],
  'Санкт-Петербург': ['петербург', 'спб', 'saint petersburg', 'st petersburg', 'spb'],
  'Нижний Новгород': ['н. новгород'],
  'Ростов-на-Дону': ['ростов на дону'],
  Екатеринбург: ['ekb'],
  Орёл: ['орел'],
  Королёв: ['королев'],
  Щёлково: ['щелково'],
}

const CITY_IDS: ReadonlyArray<readonly [string, number, IdSource]> = [
  ['Москва', 1, 'MOSCOW_SERP'],
  ['Санкт-Петербург', 2, 'SPB_OFFER'],
  ['Абакан', 4638, 'CIANPARSER'],
  ['Анадырь', 4648, 'CIANPARSER'],
  ['Архангельск', 4658, 'CIANPARSER'],
  ['Астрахань', 4660, 'CIANPARSER'],
  ['Барнаул', 4668, 'CIANPARSER'],
  ['Белгород', 4671, 'CIANPARSER'],
  ['Биробиджан', 4682, 'CIANPARSER'],
  ['Благовещенск', 4683, 'CIANPARSER'],
  ['Бронницы', 4690, 'CIANPARSER'],
  ['Брянск', 4691, 'CIANPARSER'],
  ['Великий Новгород', 4694, 'CIANPARSER'],
  ['Владивосток', 4701, 'CIANPARSER'],
  ['Владикавказ', 4702, 'CIANPARSER'],
  ['Владимир', 4703, 'CIANPARSER'],
  ['Волгоград', 4704, 'CIANPARSER'],
  ['Вологда', 4708, 'CIANPARSER'],
  ['Воронеж', 4713, 'CIANPARSER'],
  ['Геленджик', 4717, 'CIANPARSER'],
  ['Горно-Алтайск', 4719, 'CIANPARSER'],
  ['Грозный', 4723, 'CIANPARSER'],
  ['Дзержинский', 4734, 'CIANPARSER'],
  ['Долгопрудный', 4738, 'CIANPARSER'],
  ['Дубна', 4741, 'CIANPARSER'],
  ['Екатеринбург', 4743, 'CIANPARSER'],
  ['Жуковский', 4750, 'CIANPARSER'],
  ['Звенигород', 4756, 'CIANPARSER'],
  ['Иваново', 4767, 'CIANPARSER'],
  ['Ижевск', 4770, 'CIANPARSER'],
  ['Иркутск', 4774, 'CIANPARSER'],
  ['Йошкар-Ола', 4776, 'CIANPARSER'],
  ['Казань', 4777, 'CIANPARSER'],
  ['Калининград', 4778, 'CIANPARSER'],
  ['Калуга', 4780, 'CIANPARSER'],
  ['Кемерово', 4795, 'CIANPARSER'],
  ['Киров', 4800, 'CIANPARSER'],
  ['Коломна', 4809, 'CIANPARSER'],
  ['Королёв', 4813, 'CIANPARSER'],
  ['Красноармейск', 4817, 'CIANPARSER'],
  ['Краснодар', 4820, 'CIANPARSER'],
  ['Краснознаменск', 4822, 'CIANPARSER'],
  ['Красноярск', 4827, 'CIANPARSER'],
  ['Курган', 4834, 'CIANPARSER'],
  ['Курск', 4835, 'CIANPARSER'],
  ['Кызыл', 4837, 'CIANPARSER'],
  ['Липецк', 4847, 'CIANPARSER'],
  ['Лобня', 4848, 'CIANPARSER'],
  ['Лыткарино', 4851, 'CIANPARSER'],
  ['Магадан', 4852, 'CIANPARSER'],
  ['Майкоп', 4855, 'CIANPARSER'],
  ['Махачкала', 4857, 'CIANPARSER'],
  ['Мурманск', 4871, 'CIANPARSER'],
  ['Нальчик', 4875, 'CIANPARSER'],
  ['Нарьян-Мар', 4876, 'CIANPARSER'],
  ['Нижний Новгород', 4885, 'CIANPARSER'],
  ['Новороссийск', 4896, 'CIANPARSER'],
  ['Новокузнецк', 4894, 'CIANPARSER'],
  ['Новосибирск', 4897, 'CIANPARSER'],
  ['Омск', 4914, 'CIANPARSER'],
  ['Оренбург', 4915, 'CIANPARSER'],
  ['Орехово-Зуево', 4916, 'CIANPARSER'],
  ['Пенза', 4923, 'CIANPARSER'],
  ['Пермь', 4927, 'CIANPARSER'],
  ['Петрозаводск', 4930, 'CIANPARSER'],
  ['Петропавловск-Камчатский', 4931, 'CIANPARSER'],
  ['Подольск', 4935, 'CIANPARSER'],
  ['Протвино', 4945, 'CIANPARSER'],
  ['Псков', 4946, 'CIANPARSER'],
  ['Пущино', 4949, 'CIANPARSER'],
  ['Реутов', 4958, 'CIANPARSER'],
  ['Ростов-на-Дону', 4959, 'CIANPARSER'],
  ['Рошаль', 4960, 'CIANPARSER'],
  ['Рязань', 4963, 'CIANPARSER'],
  ['Салехард', 4965, 'CIANPARSER'],
  ['Самара', 4966, 'CIANPARSER'],
  ['Саранск', 4967, 'CIANPARSER'],
  ['Саратов', 4969, 'CIANPARSER'],
  ['Серпухов', 4983, 'CIANPARSER'],
  ['Смоленск', 4987, 'CIANPARSER'],
  ['Сочи', 4998, 'CIANPARSER'],
  ['Ставрополь', 5001, 'CIANPARSER'],
  ['Сургут', 5003, 'CIANPARSER'],
  ['Сыктывкар', 5006, 'CIANPARSER'],
  ['Тамбов', 5011, 'CIANPARSER'],
  ['Тольятти', 5015, 'CIANPARSER'],
  ['Томск', 5016, 'CIANPARSER'],
  ['Тула', 5020, 'CIANPARSER'],
  ['Тюмень', 5024, 'TYUMEN_OFFER'],
  ['Улан-Удэ', 5026, 'CIANPARSER'],
  ['Ульяновск', 5027, 'CIANPARSER'],
  ['Фрязино', 5038, 'CIANPARSER'],
  ['Хабаровск', 5039, 'CIANPARSER'],
  ['Ханты-Мансийск', 5041, 'CIANPARSER'],
  ['Химки', 5044, 'CIANPARSER'],
  ['Чебоксары', 5047, 'CIANPARSER'],
  ['Челябинск', 5048, 'CIANPARSER'],
  ['Череповец', 5050, 'CIANPARSER'],
  ['Черкесск', 5051, 'CIANPARSER'],
  ['Чита', 5053, 'CIANPARSER'],
  ['Электросталь', 5064, 'CIANPARSER'],
  ['Элиста', 5065, 'CIANPARSER'],
  ['Южно-Сахалинск', 5069, 'CIANPARSER'],
  ['Якутск', 5073, 'CIANPARSER'],
  ['Ярославль', 5075, 'CIANPARSER'],
  ['Азов', 174136, 'CIANPARSER'],
  ['Аксай', 174151, 'CIANPARSER'],
  ['Альметьевск', 174184, 'CIANPARSER'],
  ['Анапа', 174191, 'CIANPARSER'],
  ['Балашиха', 174292, 'CIANPARSER'],
  ['Видное', 174508, 'CIANPARSER'],
  ['Воскресенск', 174530, 'CIANPARSER'],
  ['Дмитров', 174634, 'CIANPARSER'],
  ['Домодедово', 174640, 'CIANPARSER'],
  ['Егорьевск', 174659, 'CIANPARSER'],
  ['Истра', 174832, 'CIANPARSER'],
  ['Клин', 175004, 'CIANPARSER'],
  ['Кострома', 175050, 'CIANPARSER'],
  ['Красногорск', 175071, 'CIANPARSER'],
  ['Люберцы', 175231, 'CIANPARSER'],
  ['Мытищи', 175378, 'CIANPARSER'],
  ['Набережные Челны', 175380, 'CIANPARSER'],
  ['Назрань', 175389, 'CIANPARSER'],
  ['Одинцово', 175578, 'CIANPARSER'],
  ['Орёл', 175604, 'CIANPARSER'],
  ['Пушкин', 175744, 'CIANPARSER'],
  ['Раменское', 175758, 'CIANPARSER'],
  ['Сергиев Посад', 175864, 'CIANPARSER'],
  ['Солнечногорск', 175903, 'CIANPARSER'],
  ['Ступино', 175996, 'CIANPARSER'],
  ['Тверь', 176083, 'CIANPARSER'],
  ['Уфа', 176245, 'CIANPARSER'],
  ['Чехов', 176321, 'CIANPARSER'],
  ['Щёлково', 176401, 'CIANPARSER'],
]

export const REGIONS: readonly Region[] = CITY_IDS.map(([name, cianId, source]) => ({
  code: regionFromCity(name) as string,
  name,
  names: [name.toLowerCase(), ...(ALIASES[name] ?? [])],
  cianId,
  source,
}))

/** Oblasts whose cian id a saved page names. */
export const OBLASTS: ReadonlyArray<{ name: string; names: readonly string[]; cianId: number; source: IdSource }> = [
  { name: 'Ленинградская область', names: ['ленинградская область', 'ленинградская обл.', 'ло'], cianId: 4588, source: 'SPB_OFFER' },
  { name: 'Тюменская область', names: ['тюменская область', 'тюменская обл.'], cianId: 4623, source: 'TYUMEN_OFFER' },
]

const BY_CODE = new Map(REGIONS.map((r) => [r.code, r]))
const BY_NAME = new Map(REGIONS.flatMap((r) => r.names.map((n) => [normalise(n), r] as const)))

function normalise(s: string): string {
  return s.trim().toLowerCase().replace(/ё/g, 'е').replace(/^г\.\s*/, '').replace(/\s+/g, ' ')
}

/** The table's city for a code or a name ("Тюмень", "tyumen", "spb"), or undefined. */
export function findRegion(codeOrName: string | null | undefined): Region | undefined {
  if (!codeOrName) return undefined
  const v = normalise(codeOrName)
  return BY_CODE.get(v) ?? BY_NAME.get(v) ?? BY_CODE.get(regionFromCity(v) ?? '')
}

/** Region code for a cian location id, or null when the id is not in the table. */
export function regionFromCianId(id: number | null): string | null {
  if (id === null) return null
  return REGIONS.find((r) => r.cianId === id)?.code ?? null
}

/** The cian `region=` id for a region code, or undefined. */
export function cianRegionId(code: string): number | undefined {
  return BY_CODE.get(code)?.cianId
}

/**
 * The property's region code: its `region` (a code or a name), else its `city`, else the first
 * address part that names a city of the table. Null when none of those says where it is.
 */
export function resolveRegion(p: Pick<Property, 'region' | 'city' | 'address'>): string | null {
  for (const raw of [p.region, p.city]) {
    if (!raw || raw.trim() === '') continue
    return findRegion(raw)?.code ?? regionFromCity(raw)
  }
  for (const part of (p.address ?? '').split(',')) {
    const hit = BY_NAME.get(normalise(part))
    if (hit) return hit.code
  }
  return null
}

/** What a listing lacks for its region to be told, in Russian genitive (empty when it has a region). */
export function missingRegionFacts(p: Pick<Property, 'region' | 'city' | 'address'>): string[] {
  if (resolveRegion(p) !== null) return []
  return ['города в объявлении', p.address ? `известного города в адресе «${p.address}»` : 'адреса', 'города в ссылке']
}

/**
 * Where on cian to search analogs of `p`: the table's city id, else the id the listing's own cian page
 * gave, else its oblast (by the page's id or by an oblast named in the address). Null: not covered.
 */
export function cianLocationFor(p: Pick<Property, 'region' | 'city' | 'address' | 'characteristics'>): CianLocation | null {
  const city = findRegion(resolveRegion(p))
  if (city) return { id: city.cianId, level: 'city', name: city.name }
  const cityId = positiveInt(p.characteristics?.cian_city_id)
  if (cityId !== null) return { id: cityId, level: 'city', name: p.city }
  const oblastId = positiveInt(p.characteristics?.cian_region_id)
  const named = (p.address ?? '').split(',').map(normalise)
  const oblast = OBLASTS.find((o) => o.cianId === oblastId) ?? OBLASTS.find((o) => o.names.some((n) => named.includes(n)))
  if (oblast) return { id: oblast.cianId, level: 'oblast', name: oblast.name }
  if (oblastId !== null) return { id: oblastId, level: 'oblast', name: null }
  return null
}

function positiveInt(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,9}$/.test(v)) return null
  const n = Number(v)
  return n > 0 ? n : null
}
