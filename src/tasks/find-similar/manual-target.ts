/**
 * @module A flat without a listing: what the owner typed in the wizard ("Ввести параметры вручную"),
 * validated once with the bounds the wizard's fields use, and turned into a Property with nothing
 * filled in that the owner did not say.
 */
import { z } from 'zod'
import { emptyProperty, MARKETS, type Property } from '../parse/property.ts'
import { regionFromCity } from '../parse/sites/region.ts'
import { resolveRegion } from './regions.ts'

const text = (max: number) => z.string().trim().min(1).max(max)

export const PARKING_CHOICES = ['underground', 'multilevel', 'ground', 'none'] as const

export const ManualTargetSchema = z
  .object({
    city: text(100),
    address: text(300).optional(),
    district: text(100).optional(),
    total_area: z.number().min(8).max(1000),
    rooms: z.number().int().min(0).max(20),
    floor: z.number().int().min(-5).max(200).optional(),
    floors_total: z.number().int().min(1).max(200).optional(),
    year_built: z.number().int().min(1700).max(2100).optional(),
    house_type: text(100).optional(),
    repair: text(100).optional(),
    ceiling_height: z.number().min(2).max(10).optional(),
    living_area: z.number().positive().max(1000).optional(),
    kitchen_area: z.number().positive().max(1000).optional(),
    market: z.enum(MARKETS).optional(),
    /** The price the owner asks, if any: without it the report gives no verdict. */
    price: z.number().int().min(1).max(100_000_000_000).optional(),
    balconies: z.number().int().min(0).max(10).optional(),
    bathrooms: z.number().int().min(1).max(10).optional(),
    lift: z.boolean().optional(),
    parking: z.enum(PARKING_CHOICES).optional(),
  })
  .strict()
  .refine((m) => m.address !== undefined || m.district !== undefined, { message: 'address or district is required', path: ['address'] })
  .refine((m) => m.floor === undefined || m.floors_total === undefined || m.floor <= m.floors_total, { message: 'floor is above floors_total', path: ['floor'] })
  .refine((m) => m.living_area === undefined || m.living_area <= m.total_area, { message: 'living_area exceeds total_area', path: ['living_area'] })
export type ManualTarget = z.infer<typeof ManualTargetSchema>

const PARKING_WORDS: Record<(typeof PARKING_CHOICES)[number], string> = { underground: 'Подземная', multilevel: 'Многоуровневая', ground: 'Наземная', none: 'Нет' }

/** The owner's answers as a Property; amenities go into the labels the valuation reads (features.ts). */
export function manualTargetToProperty(m: ManualTarget): Property {
  const characteristics: Record<string, string> = {}
  if (m.balconies !== undefined) characteristics['Балкон/лоджия'] = m.balconies === 0 ? 'нет' : `${m.balconies} балкон`
  if (m.bathrooms !== undefined) characteristics['Санузел'] = `${m.bathrooms} санузел`
  if (m.lift !== undefined) characteristics['Лифт'] = m.lift ? 'есть' : 'нет'
  if (m.parking !== undefined) characteristics['Парковка'] = PARKING_WORDS[m.parking]
  const property: Property = {
    ...emptyProperty('generic', ''),
    deal_type: 'sale',
    property_type: 'flat',
    market: m.market ?? null,
    price: m.price ?? null,
    currency: m.price === undefined ? null : 'RUB',
    total_area: m.total_area,
    living_area: m.living_area ?? null,
    kitchen_area: m.kitchen_area ?? null,
    rooms: m.rooms,
    floor: m.floor ?? null,
    floors_total: m.floors_total ?? null,
    city: m.city,
    district: m.district ?? null,
    address: [m.city, m.district, m.address].filter(Boolean).join(', '),
    year_built: m.year_built ?? null,
    house_type: m.house_type ?? null,
    ceiling_height: m.ceiling_height ?? null,
    repair: m.repair ?? null,
    characteristics,
  }
  property.region = regionFromCity(m.city)
  property.region = resolveRegion(property) ?? property.region
  return property
}
