import { z } from 'zod'

/**
 * The normalized property: one shape for a parsed target and for every analog.
 * A field the page does not give is null — never a default, never a guess.
 */
export const MetroDetailSchema = z.object({
  name: z.string(),
  minutes: z.number().int().nonnegative().nullable(),
  mode: z.enum(['walk', 'transport']).nullable(),
})

export const SOURCES = ['cian', 'avito', 'domclick', 'yandex', 'generic'] as const
export const DEAL_TYPES = ['sale', 'rent'] as const
export const PROPERTY_TYPES = ['flat', 'room', 'house', 'land', 'commercial'] as const
export const MARKETS = ['secondary', 'new_building'] as const

export const PropertySchema = z.object({
  source: z.enum(SOURCES),
  offer_id: z.string().nullable(),
  url: z.string(),
  title: z.string().nullable(),
  deal_type: z.enum(DEAL_TYPES).nullable(),
  property_type: z.enum(PROPERTY_TYPES).nullable(),
  market: z.enum(MARKETS).nullable(),
  is_active: z.boolean().nullable(),
  /** Whole units of `currency`; rent is per month. */
  price: z.number().int().nonnegative().nullable(),
  currency: z.string().nullable(),
  price_per_sqm: z.number().nonnegative().nullable(),
  /** Square metres. */
  total_area: z.number().positive().nullable(),
  living_area: z.number().positive().nullable(),
  kitchen_area: z.number().positive().nullable(),
  /** Square metres of land (a plot's "сотки" × 100), never mixed with flat area. */
  land_area: z.number().positive().nullable(),
  /** Studio = 0. */
  rooms: z.number().int().nonnegative().nullable(),
  floor: z.number().int().nullable(),
  floors_total: z.number().int().positive().nullable(),
  address: z.string().nullable(),
  city: z.string().nullable(),
  region: z.string().nullable(),
  district: z.string().nullable(),
  metro: z.array(z.string()),
  metro_details: z.array(MetroDetailSchema),
  lat: z.number().min(-90).max(90).nullable(),
  lon: z.number().min(-180).max(180).nullable(),
  /** Year the house was built; a new building's deadline goes to completion_year instead. */
  year_built: z.number().int().nullable(),
  completion_year: z.number().int().nullable(),
  house_type: z.string().nullable(),
  /** Metres. */
  ceiling_height: z.number().positive().nullable(),
  residential_complex: z.string().nullable(),
  repair: z.string().nullable(),
  photos: z.array(z.string()),
  description: z.string().nullable(),
  /** When the listing was first published (ISO-8601), where the site says; for time on market. */
  published_at: z.iso.datetime({ offset: true }).nullable().default(null),
  /** The page's raw label → value pairs. */
  characteristics: z.record(z.string(), z.string()),
})

export type Property = z.infer<typeof PropertySchema>
export type MetroDetail = z.infer<typeof MetroDetailSchema>

/** A captcha or IP-block page: the site refused us, and nothing on it is listing data. */
export type BlockedPage = { blocked: true; site: string; reason: string }

export type ParseOutcome = { blocked: false; property: Property } | BlockedPage

/** An all-null property for a source and URL; parsers fill in only what the page gives. */
export function emptyProperty(source: Property['source'], url: string): Property {
  return {
    source,
    offer_id: null,
    url,
    title: null,
    deal_type: null,
    property_type: null,
    market: null,
    is_active: null,
    price: null,
    currency: null,
    price_per_sqm: null,
    total_area: null,
    living_area: null,
    kitchen_area: null,
    land_area: null,
    rooms: null,
    floor: null,
    floors_total: null,
    address: null,
    city: null,
    region: null,
    district: null,
    metro: [],
    metro_details: [],
    lat: null,
    lon: null,
    year_built: null,
    completion_year: null,
    house_type: null,
    ceiling_height: null,
    residential_complex: null,
    repair: null,
    photos: [],
    description: null,
    published_at: null,
    characteristics: {},
  }
}
