const SPACE_RUN = /[\s\u00a0\u2009\u202f]+/g
const GROUP_SPACE = '[ \\u00a0\\u2009\\u202f]'
const NUMBER = new RegExp(`(\\d{1,3}(?:${GROUP_SPACE}\\d{3})+|\\d+)(?:[.,](\\d+))?`)
const YEAR = /(?<!\d)(1[7-9]\d\d|20\d\d)(?!\d)/

/** Trims and collapses whitespace (nbsp and thin spaces too); empty → null. */
export function cleanText(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null
  const text = value.replace(SPACE_RUN, ' ').trim()
  return text === '' ? null : text
}

/** A label as a lookup key: lower case, ё→е, no trailing colon. */
export function normalizeLabel(label: string): string {
  return (cleanText(label) ?? '').toLowerCase().replace(/ё/g, 'е').replace(/[:：]\s*$/, '').trim()
}

/** The first number in Russian-formatted text: "126,4 м²" → 126.4, "78 000 000 ₽" → 78000000. */
export function parseNumber(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const match = NUMBER.exec(text)
  if (!match) return null
  const whole = match[1].replace(/\D/g, '')
  const value = Number(match[2] ? `${whole}.${match[2]}` : whole)
  return Number.isFinite(value) ? value : null
}

/** A price with optional "тыс"/"млн"/"млрд" multipliers, as whole units. */
export function parsePrice(text: string | null | undefined): number | null {
  const value = parseNumber(text)
  if (value === null || typeof text !== 'string') return null
  const lower = text.toLowerCase()
  const factor = /млрд/.test(lower) ? 1e9 : /млн/.test(lower) ? 1e6 : /тыс/.test(lower) ? 1e3 : 1
  return toNonNegativeInt(value * factor)
}

/** Square metres of a flat or room; land units (сотки, га) give null so they never pass as flat area. */
export function parseArea(text: string | null | undefined): number | null {
  if (typeof text !== 'string' || /сот|(?<![а-яё])га(?![а-яё])|гектар/i.test(text)) return null
  return toPositive(parseNumber(text))
}

/** Square metres of land: сотки × 100, гектары × 10 000, plain m² as is. */
export function parseLandArea(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const value = toPositive(parseNumber(text))
  if (value === null) return null
  if (/сот/i.test(text)) return round(value * 100, 2)
  if (/(?<![а-яё])га(?![а-яё])|гектар/i.test(text)) return round(value * 10_000, 2)
  return value
}

/** "4 из 6", "5/16" → { floor: 4, floorsTotal: 6 }; "3" → { floor: 3 }. */
export function parseFloor(text: string | null | undefined): {
  floor: number | null
  floorsTotal: number | null
} {
  if (typeof text !== 'string') return { floor: null, floorsTotal: null }
  const pair = /(-?\d{1,3})\s*(?:из|\/)\s*(\d{1,3})/.exec(text)
  if (pair) return { floor: Number(pair[1]), floorsTotal: toPositiveInt(Number(pair[2])) }
  const single = /-?\d{1,3}/.exec(text)
  return { floor: single ? Number(single[0]) : null, floorsTotal: null }
}

/** More rooms than this in one flat is a house number or an area, never a room count. */
const MAX_ROOMS = 20

const ROOM_WORDS: Record<string, number> = {
  одно: 1,
  двух: 2,
  трех: 3,
  четырех: 4,
  пяти: 5,
  шести: 6,
}

/** Rooms from a title or a value: "3-комн.", "1-к. квартира", "студия" → 0, "двухкомнатная" → 2. */
export function parseRooms(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const lower = text.toLowerCase().replace(/ё/g, 'е')
  if (/студи/.test(lower)) return 0
  // "к" alone is also a building's корпус ("52к1", "д. 12 к 3"): it counts only when no number follows.
  const numbered = /(?<![\d/])(\d{1,2})\s*-?\s*(?:комн|к\.(?!\s*\d)|к(?![а-яё\d])(?!\s*\d)|комнат)/.exec(lower)
  if (numbered && Number(numbered[1]) <= MAX_ROOMS) return Number(numbered[1])
  const worded = /(одно|двух|трех|четырех|пяти|шести)комнатн/.exec(lower)
  if (worded) return ROOM_WORDS[worded[1]]
  if (/^\s*\d{1,2}\s*$/.test(lower)) return Number(lower)
  return null
}

/** A plausible four-digit year in the text, or null. */
export function parseYear(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const match = YEAR.exec(text)
  return match ? Number(match[1]) : null
}

/** Metres; a value written in centimetres ("270 см") is converted, anything implausible is null. */
export function parseCeilingHeight(text: string | null | undefined): number | null {
  const value = parseNumber(text)
  if (value === null) return null
  const metres = value > 100 ? value / 100 : value
  return metres >= 1.8 && metres <= 10 ? round(metres, 2) : null
}

/** Signs and words that name one currency; "$" is left to dollarCurrency, because many countries use it. */
const CURRENCY_SIGNS: Array<[RegExp, string]> = [
  [/₽|руб|\brub\b|\brur\b/i, 'RUB'],
  [/€|\beur\b|евро/i, 'EUR'],
  [/£|\bgbp\b/i, 'GBP'],
  [/₸|\bkzt\b|тенге|(?<![а-яё])тг(?![а-яё])/i, 'KZT'],
  [/₴|\buah\b|грн/i, 'UAH'],
  [/₺/, 'TRY'],
  [/₹/, 'INR'],
  [/₾/, 'GEL'],
  [/zł|\bpln\b/i, 'PLN'],
  [/\bchf\b/i, 'CHF'],
  [/\bbyn\b/i, 'BYN'],
  [/\b(usd|us\$)\b|долл/i, 'USD'],
]
const ISO_CODE = /^[A-Z]{3}$/

/** ISO code from a currency sign, word or code; a bare "$" is US dollars unless the text names another dollar. */
export function parseCurrency(text: string | null | undefined): string | null {
  if (typeof text !== 'string') return null
  const trimmed = text.trim()
  if (ISO_CODE.test(trimmed)) return trimmed
  const found = CURRENCY_SIGNS.find(([pattern]) => pattern.test(text))
  if (found) return found[1]
  if (text.includes('$')) return dollarCurrency(text) ?? 'USD'
  return null
}

/** "A$", "AU$", "C$", "NZ$", "HK$", "S$", or a dollar ISO code in the text. */
export function dollarCurrency(text: string): string | null {
  const prefixed = /\b(AU?|C|CA|NZ|HK|S|SG)\$/.exec(text)
  const prefixes: Record<string, string> = { A: 'AUD', AU: 'AUD', C: 'CAD', CA: 'CAD', NZ: 'NZD', HK: 'HKD', S: 'SGD', SG: 'SGD' }
  if (prefixed) return prefixes[prefixed[1]] ?? null
  const code = /\b(AUD|CAD|NZD|HKD|SGD|USD)\b/.exec(text)
  return code ? code[1] : null
}

/**
 * A number written in any locale: "3,600,000", "200.000", "1 797", "44.4", "126,4". A separator
 * followed by exactly three digits (repeatedly) groups thousands; otherwise it is the decimal point.
 */
export function parseAmount(text: string | null | undefined): number | null {
  if (typeof text !== 'string') return null
  const match = /\d{1,3}(?:([,.'\u00a0\u2009\u202f ])\d{3})(?:\1\d{3})*(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?/.exec(text)
  if (!match) return null
  const raw = match[0]
  const group = match[1]
  let normalized = raw
  if (group !== undefined) {
    const cut = raw.split(group).join('')
    normalized = cut.replace(',', '.')
  } else {
    normalized = raw.replace(',', '.')
  }
  const value = Number(normalized)
  return Number.isFinite(value) ? value : null
}

export function toPositive(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null
}

export function toPositiveInt(value: number | null | undefined): number | null {
  const positive = toPositive(value)
  return positive !== null && Number.isSafeInteger(positive) ? positive : null
}

export function toNonNegativeInt(value: number | null | undefined): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null
  const rounded = Math.round(value)
  return Number.isSafeInteger(rounded) ? rounded : null
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** cian's Unix-seconds timestamps (publicationDate, addedTimestamp) as ISO-8601; null when implausible. */
export function unixToIso(seconds: number | null): string | null {
  // 2000-01-01 … 2100-01-01: anything else is not a publication date.
  if (seconds === null || seconds < 946_684_800 || seconds > 4_102_444_800) return null
  return new Date(seconds * 1000).toISOString()
}
