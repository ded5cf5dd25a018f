/**
 * @module How the report writes numbers and page text: ru-RU numbers, money (rent per month),
 * percentages, and escaping for HTML and Markdown (titles and addresses are attacker-controlled).
 */
import type { Valuation } from './valuation.ts'

export const nf0 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 0 })
export const nf1 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 1 })

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** Escapes Markdown syntax and raw HTML in page text, and `|` for table cells. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\\`*_{}[\]()#+!|~>]/g, (ch) => `\\${ch}`)
    .replace(/</g, '&lt;')
    .replace(/\r?\n/g, ' ')
}

export function formatRub(n: number, currency = 'RUB'): string {
  const sign = currency === 'RUB' ? '₽' : currency
  return `${nf0.format(Math.round(n))} ${sign}`
}

/** A sum in the report's words: rent is always per month. */
export function moneyFor(v: Pick<Valuation, 'currency' | 'deal_type'>): (n: number) => string {
  return (n) => `${formatRub(n, v.currency)}${v.deal_type === 'rent' ? '/мес' : ''}`
}

/** «+5,8 %» (signed) or «5,8 %». */
export function pct(x: number, signed = true): string {
  const v = nf1.format(Math.abs(x * 100))
  if (!signed) return `${v} %`
  return `${x > 0 ? '+' : x < 0 ? '−' : ''}${v} %`
}

/** A range for people, not for a spreadsheet: millions to 10 000 ₽, tens of thousands to 100 ₽. */
export function roundForPeople(n: number): number {
  const step = n >= 1_000_000 ? 10_000 : n >= 10_000 ? 100 : 1
  return Math.round(n / step) * step
}

export function plural(n: number, one: string, few: string, many: string): string {
  const mod10 = n % 10
  const mod100 = n % 100
  if (mod10 === 1 && mod100 !== 11) return one
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return few
  return many
}
