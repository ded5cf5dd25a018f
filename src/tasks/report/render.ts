/**
 * @module The valuation report as a standalone Russian HTML document (inline CSS and SVG, no
 * external assets) and as Markdown. Every string that came from a listing page or a user is
 * escaped: titles and addresses are attacker-controlled text.
 */
import type { Property } from '../parse/property.ts'
import type { ExclusionReason, Valuation, Verdict } from './valuation.ts'

/** A comparable as find-similar returns it; the ranking fields are optional. */
export type ReportComparable = Property & {
  similarity?: number
  distance_km?: number | null
  reasons?: string[]
}

export type ReportMeta = {
  /** ISO timestamp of generation. */
  generated_at: string
  /** Job / report id, shown in the footer. */
  report_id?: string
}

const VERDICT_RU: Record<Verdict, string> = {
  overpriced: 'Цена завышена',
  underpriced: 'Цена занижена',
  fair: 'Цена соответствует рынку',
}

const EXCLUSION_RU: Record<ExclusionReason, string> = {
  missing_price: 'нет цены',
  missing_area: 'нет площади',
  implausible_area: 'неправдоподобная площадь',
  implausible_price_per_sqm: 'неправдоподобная цена за м²',
  floor_above_total: 'этаж больше этажности дома',
  iqr_outlier: 'выброс по цене за м² (IQR)',
}

const QUALITY_RU = { excellent: 'отличное', good: 'хорошее', fair: 'удовлетворительное', poor: 'низкое' } as const

// ---------------------------------------------------------------- HTML

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** Only http(s) links survive; anything else (javascript:, data:) becomes inert. */
function safeHref(url: string): string {
  return /^https?:\/\//i.test(url) ? escapeHtml(url) : '#'
}

const nf0 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 0 })
const nf1 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 1 })

export function formatRub(n: number, currency = 'RUB'): string {
  const sign = currency === 'RUB' ? '₽' : currency
  return `${nf0.format(Math.round(n))} ${sign}`
}

function pct(x: number, signed = true): string {
  const v = nf1.format(Math.abs(x * 100))
  if (!signed) return `${v} %`
  return `${x > 0 ? '+' : x < 0 ? '−' : ''}${v} %`
}

function ppsmOf(p: Property): number | null {
  return p.price !== null && p.total_area !== null && p.total_area > 0 ? p.price / p.total_area : null
}

function describe(p: Property): string {
  const parts: string[] = []
  if (p.rooms !== null) parts.push(p.rooms === 0 ? 'студия' : `${p.rooms}-комн.`)
  if (p.total_area !== null) parts.push(`${nf1.format(p.total_area)} м²`)
  if (p.floor !== null) parts.push(p.floors_total !== null ? `${p.floor}/${p.floors_total} эт.` : `${p.floor} эт.`)
  return parts.join(', ')
}

export function renderReportHtml(
  valuation: Valuation,
  target: Property,
  comparables: readonly ReportComparable[],
  meta: ReportMeta,
): string {
  const v = valuation
  const cur = v.currency
  const e = escapeHtml
  const used = new Set(v.used_urls)
  const excludedBy = new Map(v.excluded.map((x) => [x.url, x.reason]))
  const heading = target.title ?? target.address ?? 'объект'
  const rentNote = v.deal_type === 'rent' ? ' в месяц' : ''

  const adjustments = v.adjustments.length
    ? `<table><thead><tr><th>Параметр</th><th>Объект</th><th>Аналоги</th><th>Коэффициент</th><th>Оценка, ₽/м²</th><th>Основание</th></tr></thead><tbody>${v.adjustments
        .map(
          (a) =>
            `<tr><td>${e(a.label)}</td><td>${e(String(a.target_value))}</td><td>${e(String(a.analogs_value))}</td><td>${a.coefficient.toFixed(3)}</td><td class="num">${nf0.format(a.estimate_per_sqm)}</td><td>${e(a.note)}</td></tr>`,
        )
        .join('')}</tbody></table><p class="muted">Справедливая цена за м² — медиана независимых оценок.</p>`
    : '<p>Объект не отличается от аналогов по учитываемым параметрам: справедливая цена за м² равна медиане аналогов.</p>'

  const rows = comparables
    .map((c, i) => {
      const ppsm = ppsmOf(c)
      const reason = excludedBy.get(c.url)
      const status = used.has(c.url) ? 'в расчёте' : reason ? `исключён: ${EXCLUSION_RU[reason]}` : 'не в расчёте'
      return `<tr class="${used.has(c.url) ? '' : 'excluded'}"><td>${i + 1}</td><td><a href="${safeHref(c.url)}" rel="noopener noreferrer">${e(c.title ?? c.address ?? c.url)}</a><div class="muted">${e(c.address ?? '')}</div></td><td>${e(describe(c))}</td><td class="num">${c.price === null ? '—' : e(formatRub(c.price, cur))}</td><td class="num">${ppsm === null ? '—' : nf0.format(ppsm)}</td><td>${c.distance_km == null ? '—' : `${nf1.format(c.distance_km)} км`}</td><td>${e((c.reasons ?? []).join('; '))}</td><td>${e(status)}</td></tr>`
    })
    .join('')

  const verdictClass = v.verdict ?? 'none'
  const verdictText = v.verdict ? VERDICT_RU[v.verdict] : 'Цена объявления неизвестна'
  const r = v.price_range

  return `<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Оценка: ${e(heading)}</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; max-width: 960px; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #e4e7eb; padding-bottom: .25rem; }
  .muted { color: #7b8794; font-size: .9em; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: .75rem; margin: 1rem 0; }
  .card { border: 1px solid #e4e7eb; border-radius: 8px; padding: .75rem 1rem; } .card b { display: block; font-size: 1.3rem; }
  .verdict { display: inline-block; padding: .25rem .75rem; border-radius: 999px; font-weight: 600; }
  .verdict.overpriced { background: #fde8e8; color: #9b1c1c; } .verdict.underpriced { background: #e1effe; color: #1e429f; }
  .verdict.fair { background: #def7ec; color: #03543f; } .verdict.none { background: #f3f4f6; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  td.num { text-align: right; white-space: nowrap; } tr.excluded { color: #9aa5b1; }
  svg { max-width: 100%; height: auto; } a { color: #1a56db; }
</style>
</head>
<body>
<h1>Оценка: ${e(heading)}</h1>
<p class="muted">${e(target.address ?? '')}${target.address ? ' · ' : ''}${e(describe(target))}${target.url ? ` · <a href="${safeHref(target.url)}" rel="noopener noreferrer">объявление</a>` : ''}</p>
<p><span class="verdict ${verdictClass}" data-verdict="${verdictClass}">${e(verdictText)}</span>${v.difference === null ? '' : ` <span class="muted">цена объявления ${pct(v.difference)} к справедливой</span>`}</p>
<div class="cards">
  <div class="card">Справедливая цена${rentNote}<b data-field="fair-price">${e(formatRub(v.fair_price, cur))}</b><span class="muted">${nf0.format(v.price_per_sqm.fair)} ₽/м²</span></div>
  <div class="card">Цена объявления<b data-field="asking-price">${v.asking_price === null ? '—' : e(formatRub(v.asking_price, cur))}</b><span class="muted">${v.price_per_sqm.asking === null ? '' : `${nf0.format(v.price_per_sqm.asking)} ₽/м²`}</span></div>
  <div class="card">Достоверность<b data-field="confidence">${v.confidence.score} из 100</b><span class="muted">аналогов в расчёте: ${v.analogs_used} из ${v.analogs_total}</span></div>
</div>

<h2>Рекомендуемые цены</h2>
<table><tbody>
<tr><td>Быстрая продажа, не ниже</td><td class="num">${e(formatRub(r.quick_sale_min, cur))}</td></tr>
<tr><td>Нижняя граница (95 %)</td><td class="num">${e(formatRub(r.lower_bound, cur))}</td></tr>
<tr><td>Справедливая цена</td><td class="num">${e(formatRub(r.fair, cur))}</td></tr>
<tr><td>Цена в объявлении (рекомендуемая)</td><td class="num">${e(formatRub(r.recommended_listing, cur))}</td></tr>
<tr><td>Минимально приемлемая при торге</td><td class="num">${e(formatRub(r.minimum_acceptable, cur))}</td></tr>
<tr><td>Максимум (верхняя граница + 3 %)</td><td class="num">${e(formatRub(r.upper_bound_max, cur))}</td></tr>
</tbody></table>
<p class="muted">95 % доверительный интервал (t-распределение): ${nf0.format(v.interval_95.per_sqm[0])}–${nf0.format(v.interval_95.per_sqm[1])} ₽/м².</p>

<h2>Цена за м² аналогов</h2>
${renderChartSvg(v, comparables)}

<h2>Поправки</h2>
<p>База — медиана цены за м² аналогов: <b>${nf0.format(v.price_per_sqm.base_median)} ₽/м²</b> (разброс ${nf0.format(v.price_per_sqm.min)}–${nf0.format(v.price_per_sqm.max)}).</p>
${adjustments}

<h2>Качество данных</h2>
<p>Коэффициент вариации цены за м²: ${pct(v.data_quality.cv, false)} — ${QUALITY_RU[v.data_quality.level]}.</p>
${v.data_quality.warnings.length ? `<ul>${v.data_quality.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>` : ''}
<ul>${v.confidence.reasons.map((x) => `<li>${e(x)}</li>`).join('')}</ul>

<h2>Аналоги</h2>
<table><thead><tr><th>#</th><th>Объявление</th><th>Параметры</th><th>Цена</th><th>₽/м²</th><th>Расстояние</th><th>Почему выбран</th><th>Статус</th></tr></thead><tbody>${rows}</tbody></table>

<p class="muted">Сформировано ${e(meta.generated_at)}${meta.report_id ? ` · отчёт ${e(meta.report_id)}` : ''}. Метод: медиана цены за м² после фильтра IQR, независимые поправки по параметрам, вердикт при отклонении больше ±5 %.</p>
</body>
</html>
`
}

/**
 * Each comparable's price per m² as a dot (filled = used, hollow = excluded), with horizontal lines
 * for the target's asking price per m² and the fair value.
 */
export function renderChartSvg(v: Valuation, comparables: readonly ReportComparable[]): string {
  const W = 720
  const H = 320
  const M = { left: 90, right: 20, top: 20, bottom: 50 }
  const points = comparables.map((c) => ({ c, y: ppsmOf(c) })).filter((p): p is { c: ReportComparable; y: number } => p.y !== null)
  const lines = [v.price_per_sqm.fair, ...(v.price_per_sqm.asking === null ? [] : [v.price_per_sqm.asking])]
  const all = [...points.map((p) => p.y), ...lines]
  let lo = Math.min(...all)
  let hi = Math.max(...all)
  if (hi === lo) {
    lo *= 0.9
    hi *= 1.1
  }
  const pad = (hi - lo) * 0.08
  lo = Math.max(0, lo - pad)
  hi += pad
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const sy = (y: number) => M.top + plotH - ((y - lo) / (hi - lo)) * plotH
  const sx = (i: number) => M.left + (points.length <= 1 ? plotW / 2 : (i / (points.length - 1)) * (plotW - 20) + 10)
  const used = new Set(v.used_urls)

  const ticks = Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4)
  const grid = ticks
    .map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e4e7eb"/><text x="${M.left - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#52606d">${nf0.format(t)}</text>`)
    .join('')
  const dots = points
    .map(({ c, y }, i) => {
      const on = used.has(c.url)
      return `<circle class="analog-mark" cx="${sx(i).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="6" fill="${on ? '#1a56db' : 'none'}" stroke="#1a56db" stroke-width="2"><title>${escapeHtml(`${i + 1}. ${c.title ?? c.address ?? ''}: ${nf0.format(y)} ₽/м²${on ? '' : ' (исключён)'}`)}</title></circle><text x="${sx(i).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="10" fill="#7b8794">${i + 1}</text>`
    })
    .join('')
  const hline = (y: number, color: string, label: string, cls: string, dash: string) =>
    `<line class="${cls}" x1="${M.left}" x2="${W - M.right}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/><text x="${W - M.right - 4}" y="${(sy(y) - 6).toFixed(1)}" text-anchor="end" font-size="12" fill="${color}">${label}: ${nf0.format(y)} ₽/м²</text>`
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Цена за м² аналогов, цена объекта и справедливая цена">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>
${grid}
<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#9aa5b1"/>
<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#9aa5b1"/>
${dots}
${hline(v.price_per_sqm.fair, '#057a55', 'Справедливая', 'fair-line', '0')}
${v.price_per_sqm.asking === null ? '' : hline(v.price_per_sqm.asking, '#c81e1e', 'Объект', 'asking-line', '6 4')}
<text x="${M.left + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="12" fill="#52606d">Аналоги (номер в таблице)</text>
<text x="16" y="${M.top + plotH / 2}" text-anchor="middle" font-size="12" fill="#52606d" transform="rotate(-90 16 ${M.top + plotH / 2})">₽ за м²</text>
</svg>`
}

// ---------------------------------------------------------------- Markdown

/** Escapes Markdown syntax and raw HTML in page text, and `|` for table cells. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/[\\`*_{}[\]()#+!|~>]/g, (ch) => `\\${ch}`)
    .replace(/</g, '&lt;')
    .replace(/\r?\n/g, ' ')
}

export function renderReportMarkdown(
  valuation: Valuation,
  target: Property,
  comparables: readonly ReportComparable[],
  meta: ReportMeta,
): string {
  const v = valuation
  const cur = v.currency
  const m = escapeMarkdown
  const used = new Set(v.used_urls)
  const excludedBy = new Map(v.excluded.map((x) => [x.url, x.reason]))
  const r = v.price_range
  const lines: string[] = []
  lines.push(`# Оценка: ${m(target.title ?? target.address ?? 'объект')}`, '')
  if (target.address) lines.push(`${m(target.address)} · ${m(describe(target))}`, '')
  lines.push(`**${v.verdict ? VERDICT_RU[v.verdict] : 'Цена объявления неизвестна'}**${v.difference === null ? '' : ` (цена объявления ${pct(v.difference)} к справедливой)`}`, '')
  lines.push(`- Справедливая цена: **${formatRub(v.fair_price, cur)}** (${nf0.format(v.price_per_sqm.fair)} ₽/м²)`)
  lines.push(`- Цена объявления: ${v.asking_price === null ? '—' : formatRub(v.asking_price, cur)}`)
  lines.push(`- Достоверность: ${v.confidence.score} из 100; аналогов в расчёте ${v.analogs_used} из ${v.analogs_total}`, '')
  lines.push('## Рекомендуемые цены', '', '| | |', '|---|---:|')
  lines.push(`| Быстрая продажа, не ниже | ${formatRub(r.quick_sale_min, cur)} |`)
  lines.push(`| Справедливая цена | ${formatRub(r.fair, cur)} |`)
  lines.push(`| Цена в объявлении | ${formatRub(r.recommended_listing, cur)} |`)
  lines.push(`| Минимально приемлемая | ${formatRub(r.minimum_acceptable, cur)} |`)
  lines.push(`| Максимум | ${formatRub(r.upper_bound_max, cur)} |`, '')
  lines.push('## Поправки', '', `База (медиана аналогов): ${nf0.format(v.price_per_sqm.base_median)} ₽/м²`, '')
  if (v.adjustments.length) {
    lines.push('| Параметр | Объект | Аналоги | Коэффициент | ₽/м² |', '|---|---|---|---:|---:|')
    for (const a of v.adjustments) {
      lines.push(`| ${m(a.label)} | ${m(String(a.target_value))} | ${m(String(a.analogs_value))} | ${a.coefficient.toFixed(3)} | ${nf0.format(a.estimate_per_sqm)} |`)
    }
  } else lines.push('Поправок нет.')
  lines.push('', '## Аналоги', '', '| # | Объявление | Параметры | Цена | ₽/м² | Статус |', '|---:|---|---|---:|---:|---|')
  comparables.forEach((c, i) => {
    const ppsm = ppsmOf(c)
    const reason = excludedBy.get(c.url)
    const status = used.has(c.url) ? 'в расчёте' : reason ? `исключён: ${EXCLUSION_RU[reason]}` : 'не в расчёте'
    const link = /^https?:\/\//i.test(c.url) ? `[${m(c.title ?? c.address ?? 'объявление')}](<${c.url.replace(/[<>\s]/g, '')}>)` : m(c.title ?? '')
    lines.push(`| ${i + 1} | ${link} | ${m(describe(c))} | ${c.price === null ? '—' : formatRub(c.price, cur)} | ${ppsm === null ? '—' : nf0.format(ppsm)} | ${status} |`)
  })
  lines.push('', `_Сформировано ${m(meta.generated_at)}._`, '')
  return lines.join('\n')
}
