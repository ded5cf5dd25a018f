import { PropertySchema, emptyProperty, type Property } from '../property.ts'

export type PropertyLayer = Partial<Property>

const MAX_PHOTOS = 30

/**
 * Layers applied in order onto `base`; a later layer wins only with a real value (not null,
 * not an empty list), so the visible page is applied last and wins over embedded state.
 * Photos are the exception: the longest gallery wins.
 */
export function mergeLayers(base: Property, ...layers: PropertyLayer[]): Property {
  const merged: Record<string, unknown> = { ...base }
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (!hasValue(value)) continue
      // Galleries differ in completeness, not truth: the fullest list wins.
      if (key === 'photos' && (value as string[]).length < (merged.photos as string[]).length) continue
      merged[key] = key === 'characteristics' ? { ...(merged[key] as object), ...(value as object) } : value
    }
  }
  const property = merged as Property
  property.photos = uniqueStrings(property.photos).slice(0, MAX_PHOTOS)
  property.metro = uniqueStrings(property.metro)
  return property
}

/**
 * Resets every field the schema rejects to its empty value, so a parser's output is always
 * schema-valid even when a hostile page produced something odd; text loses NUL bytes and unpaired
 * surrogates, which Postgres text and jsonb refuse.
 */
export function sanitizeProperty(property: Property): Property {
  const empty = emptyProperty(property.source, property.url) as Record<string, unknown>
  const fixed: Record<string, unknown> = storable({ ...empty, ...property }) as Record<string, unknown>
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = PropertySchema.safeParse(fixed)
    if (result.success) return result.data
    for (const issue of result.error.issues) {
      const key = issue.path[0]
      if (typeof key === 'string' && key in empty) fixed[key] = empty[key]
    }
  }
  return PropertySchema.parse(empty)
}

/** The layer without null or undefined fields, so spreading it never erases a value. */
export function withoutNulls(fields: PropertyLayer): PropertyLayer {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined))
}

function hasValue(value: unknown): boolean {
  if (value === null || value === undefined) return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return true
}

function uniqueStrings(values: string[]): string[] {
  return [...new Set(values.filter((v) => typeof v === 'string' && v.trim() !== ''))]
}

/** The value with every string (keys too) made storable: U+0000 dropped, unpaired surrogates replaced by U+FFFD. */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '').toWellFormed()
  if (Array.isArray(value)) return value.map(storable)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [storable(key) as string, storable(item)]))
  }
  return value
}
