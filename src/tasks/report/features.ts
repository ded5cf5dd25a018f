/**
 * @module The flat's amenities the valuation adjusts for, read from the page's own label → value
 * pairs (cian, avito, domclick wording) or from what the owner typed in the wizard (same labels).
 * A fact the page does not state is null: never a default.
 */
import type { Property } from '../parse/property.ts'

export type Parking = 'underground' | 'multilevel' | 'ground' | 'none'
export type WindowView = 'yard' | 'street' | 'yard_and_street' | 'park' | 'water'

export type Features = {
  /** Balconies plus loggias. */
  balconies: number | null
  bathrooms: number | null
  /** true when every bathroom is separate, false when any is combined. */
  bathroomSeparate: boolean | null
  /** A passenger lift in the house. */
  lift: boolean | null
  parking: Parking | null
  view: WindowView | null
  market: 'secondary' | 'new_building' | null
}

/** Label variants of each fact across the sites (lower-cased, matched by prefix). */
const LABELS = {
  balcony: ['балкон/лоджия', 'балкон или лоджия', 'балкон', 'лоджия', 'количество балконов'],
  bathroom: ['санузел', 'санузлы', 'количество санузлов'],
  lift: ['количество лифтов', 'пассажирский лифт', 'лифт'],
  parking: ['парковка'],
  view: ['вид из окон', 'окна'],
} as const

function valueOf(p: Property, labels: readonly string[]): string | null {
  const entries = Object.entries(p.characteristics ?? {}).map(([k, v]) => [k.toLowerCase().trim(), String(v).toLowerCase().trim()] as const)
  for (const label of labels) {
    const hit = entries.find(([k]) => k === label)
    if (hit) return hit[1]
  }
  return null
}

// No \b: JavaScript's word boundary knows only ASCII letters.
const NONE = /^(нет|отсутствует|без|no)(?![а-яёa-z])/

/** "2 балкона, 1 лоджия" → 3; "лоджия" → 1; "нет" → 0; a bare number ("1") → 1. */
export function countItems(text: string, words: RegExp): number | null {
  if (NONE.test(text)) return 0
  if (/^\d+$/.test(text)) return Number(text)
  let total = 0
  let found = false
  for (const part of text.split(/[,;]/)) {
    if (!words.test(part)) continue
    found = true
    const n = part.match(/(\d+)/)
    total += n ? Number(n[1]) : 1
  }
  return found ? total : null
}

function bathroomsOf(text: string): { count: number | null; separate: boolean | null } {
  const count = countItems(text, /совмещ|раздел|санузел/)
  if (count === null || count === 0) return { count, separate: null }
  const combined = /совмещ/.test(text)
  const separate = /раздел/.test(text)
  return { count, separate: combined ? false : separate ? true : null }
}

function liftOf(text: string): boolean | null {
  if (NONE.test(text) || text === '0') return false
  if (/пассаж/.test(text)) return !/^0\s*пассаж/.test(text)
  if (/^\d+$/.test(text)) return Number(text) > 0
  if (/^(есть|да)(?![а-яё])/.test(text)) return true
  return null
}

function parkingOf(text: string): Parking | null {
  if (NONE.test(text)) return 'none'
  if (/подземн/.test(text)) return 'underground'
  if (/многоуров/.test(text)) return 'multilevel'
  if (/наземн|открыт|во двор|стихийн|за шлагбаум/.test(text)) return 'ground'
  return null
}

function viewOf(text: string): WindowView | null {
  if (/вод|рек|залив|мор|озер/.test(text)) return 'water'
  if (/парк|лес|сквер/.test(text)) return 'park'
  const yard = /двор/.test(text)
  const street = /улиц/.test(text)
  if (yard && street) return 'yard_and_street'
  if (yard) return 'yard'
  if (street) return 'street'
  return null
}

export function featuresOf(p: Property): Features {
  const balcony = valueOf(p, LABELS.balcony)
  const bathroom = valueOf(p, LABELS.bathroom)
  const lift = valueOf(p, LABELS.lift)
  const parking = valueOf(p, LABELS.parking)
  const view = valueOf(p, LABELS.view)
  const baths = bathroom === null ? { count: null, separate: null } : bathroomsOf(bathroom)
  return {
    balconies: balcony === null ? null : countItems(balcony, /балкон|лодж/),
    bathrooms: baths.count,
    bathroomSeparate: baths.separate,
    lift: lift === null ? null : liftOf(lift),
    parking: parking === null ? null : parkingOf(parking),
    view: view === null ? null : viewOf(view),
    market: p.market,
  }
}
