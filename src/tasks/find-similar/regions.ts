/**
 * @module Regions: our short region code ↔ cian's `region=` id ↔ city names.
 *
 * `Property.region` holds the short code (`msk`, `spb`, …). The region guard compares these codes,
 * so every reader of a region (URL, card, address) must normalise through here.
 *
 * cian ids: 1 Москва and 2 Санкт-Петербург are cian's own location ids (`cat.php?region=1`);
 * the oblast and big-city ids are the ones cian's own search URLs use. The table is partial on
 * purpose — a region missing here makes the search URL builder refuse rather than search all Russia.
 */
import type { Property } from '../parse/property.ts'

export type Region = {
  code: string
  cianId: number
  /** Lower-case names as they appear first in an address ("Москва, …"). */
  names: readonly string[]
}

export const REGIONS: readonly Region[] = [
  { code: 'msk', cianId: 1, names: ['москва', 'moscow'] },
  { code: 'spb', cianId: 2, names: ['санкт-петербург', 'спб', 'петербург', 'saint petersburg'] },
  { code: 'mo', cianId: 4593, names: ['московская область'] },
  { code: 'lo', cianId: 4588, names: ['ленинградская область'] },
  { code: 'ekb', cianId: 4743, names: ['екатеринбург'] },
  { code: 'kzn', cianId: 4777, names: ['казань'] },
  { code: 'krd', cianId: 4820, names: ['краснодар'] },
  { code: 'nsk', cianId: 4897, names: ['новосибирск'] },
]

/** Region code for a cian location id, or null when the id is not in the table. */
export function regionFromCianId(id: number | null): string | null {
  if (id === null) return null
  return REGIONS.find((r) => r.cianId === id)?.code ?? null
}

/** The cian `region=` id for a region code, or undefined. */
export function cianRegionId(code: string): number | undefined {
  return REGIONS.find((r) => r.code === code)?.cianId
}

/**
 * The property's region code: its `region` when set (code or a name), else its `city`, else the
 * first part of its address. Null when none of those is a known region — callers drop such analogs.
 */
export function resolveRegion(p: Pick<Property, 'region' | 'city' | 'address'>): string | null {
  for (const raw of [p.region, p.city, p.address?.split(',')[0]]) {
    if (!raw) continue
    const v = raw.trim().toLowerCase().replace(/^г\.\s*/, '')
    const hit = REGIONS.find((r) => r.code === v || r.names.includes(v))
    if (hit) return hit.code
  }
  return null
}
