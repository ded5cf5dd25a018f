/**
 * @module cian search URL (`https://www.cian.ru/cat.php?…`) for an AnalogQuery or a target.
 *
 * Parameters used (as cian's own filter URLs spell them):
 * - `deal_type=sale|rent`, `offer_type=flat`, `engine_version=2`; rent adds `type=4` (long-term);
 * - `region=<id>`: cian's location id of the city (or oblast) from regions.ts (msk=1, spb=2, tyumen=5024, …);
 * - rooms: `room1`…`room5`, `room6` = 6 and more, `room9` = studio (cian's studio flag);
 * - `minprice`/`maxprice` (RUB), `mintarea`/`maxtarea` (m² of total area);
 * - `object_type[0]=1` secondary, `object_type[0]=2` new building;
 * - floor rule: `is_first_floor=0` + `floornl=1` (neither first nor last), `maxfloor=1` (first);
 *   cian has no "last floor only" switch, so `last` is left to the post-filter;
 * - `p=N` results page (omitted for page 1).
 *
 * District, metro, street, ЖК and radius filters need cian's numeric geo ids, which we do not
 * keep; a live source fetches the wider page and applies `matchesQuery` to the cards.
 */
import { AppError } from '../../errors.ts'
import type { Property } from '../parse/property.ts'
import { mainQueryFor, type AnalogQuery } from './query.ts'
import { cianRegionId } from './regions.ts'

const CIAN_SEARCH = 'https://www.cian.ru/cat.php'

/** cian's room flags; studio is `room9`, 6+ rooms share `room6`. */
export function cianRoomParams(min: number, max: number): string[] {
  const keys = new Set<string>()
  for (let r = Math.max(0, min); r <= max; r++) {
    keys.add(r === 0 ? 'room9' : r >= 6 ? 'room6' : `room${r}`)
  }
  return [...keys].sort()
}

/** The cat.php URL for a query; throws `ValidationFailed` for a region or type cian cannot take. */
export function buildCianSearchUrl(q: AnalogQuery): string {
  const region = q.cian_location?.id ?? cianRegionId(q.region)
  if (region === undefined) {
    throw new AppError('ValidationFailed', `no cian location id for region "${q.region}"`)
  }
  if (q.property_type !== null && q.property_type !== 'flat') {
    throw new AppError('ValidationFailed', `cian search for "${q.property_type}" is not supported`)
  }
  const params = new URLSearchParams()
  params.set('deal_type', q.deal_type)
  params.set('engine_version', '2')
  params.set('offer_type', 'flat')
  params.set('region', String(region))
  if (q.deal_type === 'rent') params.set('type', '4')
  if (q.rooms !== null) {
    for (const key of cianRoomParams(q.rooms.min, q.rooms.max)) params.set(key, '1')
  }
  if (q.price_min !== null) params.set('minprice', String(Math.floor(q.price_min)))
  if (q.price_max !== null) params.set('maxprice', String(Math.ceil(q.price_max)))
  if (q.area_min !== null) params.set('mintarea', String(Math.floor(q.area_min)))
  if (q.area_max !== null) params.set('maxtarea', String(Math.ceil(q.area_max)))
  if (q.market === 'secondary') params.set('object_type[0]', '1')
  if (q.market === 'new_building') params.set('object_type[0]', '2')
  if (q.floor_rule === 'not_first_not_last') {
    params.set('is_first_floor', '0')
    params.set('floornl', '1')
  }
  if (q.floor_rule === 'first') params.set('maxfloor', '1')
  if (q.page > 1) params.set('p', String(q.page))
  return `${CIAN_SEARCH}?${params.toString()}`
}

/**
 * The main-level search for a target (exact rooms, segment tolerances, new/secondary), page `page`.
 * `currentYear` decides new-building status (completion within the last 2 years).
 */
export function cianSearchUrlForTarget(
  target: Property,
  { page = 1, currentYear = new Date().getFullYear() }: { page?: number; currentYear?: number } = {},
): string {
  const q = mainQueryFor(target, currentYear)
  if (q === null) {
    throw new AppError('ValidationFailed', 'the target has no known region, so there is nowhere to search')
  }
  return buildCianSearchUrl({ ...q, page })
}
