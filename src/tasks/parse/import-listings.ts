/**
 * @module Listings a user brings in bulk: rows of JSON or CSV, or a saved search-results page.
 * Every row is validated on its own; bad rows are reported with their reasons and good rows kept.
 */
import { z } from 'zod'
import { checkListingUrl } from '../../fetch/index.ts'
import type { Config } from '../../config.ts'
import { emptyProperty, MARKETS, PROPERTY_TYPES, DEAL_TYPES, type Property } from './property.ts'
import { offerIdFromUrl } from './sites/generic.ts'
import { sanitizeProperty } from './sites/merge.ts'
import { dealTypeOf, propertyTypeOf } from './sites/page-state.ts'
import { regionFromCity, regionFromUrl } from './sites/region.ts'

export const MAX_IMPORT_ROWS = 5_000

export type RowProblem = { row: number; offer_id: string | null; errors: Array<{ field: string; message: string }> }
export type ImportPlan = { listings: Property[]; rejected: RowProblem[]; total_rows: number }

/** CSV cells are text: numbers are read from them, empty cells are absent. */
const numeric = (schema: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' ? (v.trim() === '' ? undefined : Number(v.replace(/[\s\u00a0]/g, '').replace(',', '.'))) : v), schema)
const text = (max: number) => z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().trim().max(max))
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v)

const RowSchema = z.object({
  url: z.string().trim().min(1, 'url is required').max(2048),
  offer_id: text(64).optional(),
  price: numeric(z.number({ error: 'price must be a number' }).int('price must be whole').positive('price must be positive').max(1e12)),
  currency: text(3).optional(),
  total_area: numeric(z.number({ error: 'total_area must be a number' }).positive('total_area must be positive').max(100_000)),
  living_area: numeric(z.number().positive().max(100_000)).optional(),
  kitchen_area: numeric(z.number().positive().max(100_000)).optional(),
  rooms: numeric(z.number().int().min(0).max(20)).optional(),
  floor: numeric(z.number().int().min(-5).max(200)).optional(),
  floors_total: numeric(z.number().int().min(1).max(200)).optional(),
  deal_type: z.preprocess(blankToUndefined, z.enum(DEAL_TYPES)).optional(),
  property_type: z.preprocess(blankToUndefined, z.enum(PROPERTY_TYPES)).optional(),
  market: z.preprocess(blankToUndefined, z.enum(MARKETS)).optional(),
  title: text(500).optional(),
  address: text(500).optional(),
  city: text(200).optional(),
  district: text(200).optional(),
  metro: z.preprocess((v) => (typeof v === 'string' ? v.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().max(200)).max(20)).optional(),
  residential_complex: text(300).optional(),
  year_built: numeric(z.number().int().min(1700).max(2100)).optional(),
  lat: numeric(z.number().min(-90).max(90)).optional(),
  lon: numeric(z.number().min(-180).max(180)).optional(),
})

/** Validates rows one by one into listings; a row's every problem is named, the other rows go on. */
export function planRowImport(rows: unknown[], config: Pick<Config, 'listingHosts'>, siteOf: (url: string) => Property['source']): ImportPlan {
  const listings: Property[] = []
  const rejected: RowProblem[] = []
  rows.slice(0, MAX_IMPORT_ROWS).forEach((row, index) => {
    const number = index + 1
    const parsed = RowSchema.safeParse(row)
    const offerIdGuess = typeof (row as Record<string, unknown>)?.offer_id === 'string' ? ((row as Record<string, string>).offer_id || null) : null
    if (!parsed.success) {
      rejected.push({ row: number, offer_id: offerIdGuess, errors: parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'row', message: i.message })) })
      return
    }
    const r = parsed.data
    const errors: RowProblem['errors'] = []
    let url: URL | null = null
    try {
      url = checkListingUrl(r.url, config)
    } catch (e) {
      errors.push({ field: 'url', message: e instanceof Error ? e.message : 'url is not accepted' })
    }
    const offerId = r.offer_id ?? (url ? offerIdFromUrl(url.href) : null)
    const dealType = r.deal_type ?? (url ? dealTypeOf(url.pathname) : null)
    if (url && offerId === null) errors.push({ field: 'offer_id', message: 'offer_id is required when the url carries no listing number' })
    if (dealType === null) errors.push({ field: 'deal_type', message: 'deal_type (sale or rent) is required when the url does not say it' })
    if (errors.length > 0 || !url) {
      rejected.push({ row: number, offer_id: offerId, errors })
      return
    }
    const property: Property = {
      ...emptyProperty(siteOf(url.href), url.href),
      offer_id: offerId,
      title: r.title ?? null,
      deal_type: dealType,
      property_type: r.property_type ?? propertyTypeOf(url.pathname),
      market: r.market ?? null,
      price: r.price,
      currency: r.currency?.toUpperCase() ?? 'RUB',
      total_area: r.total_area,
      living_area: r.living_area ?? null,
      kitchen_area: r.kitchen_area ?? null,
      rooms: r.rooms ?? null,
      floor: r.floor ?? null,
      floors_total: r.floors_total ?? null,
      address: r.address ?? null,
      city: r.city ?? null,
      district: r.district ?? null,
      metro: r.metro ?? [],
      residential_complex: r.residential_complex ?? null,
      year_built: r.year_built ?? null,
      lat: r.lat ?? null,
      lon: r.lon ?? null,
    }
    property.price_per_sqm = Math.round(r.price / r.total_area)
    property.region = regionFromCity(property.city) ?? regionFromUrl(url.href)
    listings.push(sanitizeProperty(property))
  })
  if (rows.length > MAX_IMPORT_ROWS) {
    rejected.push({ row: MAX_IMPORT_ROWS + 1, offer_id: null, errors: [{ field: 'row', message: `only the first ${MAX_IMPORT_ROWS} rows are imported at once` }] })
  }
  return { listings, rejected, total_rows: rows.length }
}

/**
 * CSV (RFC 4180: quoted cells, doubled quotes, CRLF) with a header row of field names; the delimiter
 * is whichever of , ; or tab the header uses. Rows become objects keyed by the header.
 */
export function csvRows(source: string): Array<Record<string, string>> {
  const input = source.replace(/^\uFEFF/, '')
  const firstLine = input.slice(0, input.search(/\r?\n|$/))
  const delimiter = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length] as const).sort((a, b) => b[1] - a[1])[0][0]
  const records: string[][] = []
  let record: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < input.length; i++) {
    const char = input[i]
    if (quoted) {
      if (char === '"' && input[i + 1] === '"') {
        cell += '"'
        i++
      } else if (char === '"') quoted = false
      else cell += char
    } else if (char === '"' && cell === '') quoted = true
    else if (char === delimiter) {
      record.push(cell)
      cell = ''
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && input[i + 1] === '\n') i++
      record.push(cell)
      records.push(record)
      record = []
      cell = ''
    } else cell += char
  }
  if (cell !== '' || record.length > 0) {
    record.push(cell)
    records.push(record)
  }
  const [header, ...body] = records.filter((r) => r.some((c) => c.trim() !== ''))
  if (!header) return []
  const keys = header.map((h) => h.trim().toLowerCase())
  return body.map((cells) => Object.fromEntries(keys.map((key, i) => [key, cells[i] ?? ''])))
}
