/**
 * @module The valuation report as a standalone Russian HTML document (inline CSS and SVG, no
 * external assets) and as Markdown, from one view of the input. Every string that came from a
 * listing page or a user is escaped: titles and addresses are attacker-controlled text.
 */
import type { Property } from '../parse/property.ts'
import { escapeHtml, escapeMarkdown, moneyFor, nf0, nf1, pct, plural, roundForPeople } from './format.ts'
import { renderActionsHtml, renderActionsMarkdown, renderExtrasHtml, renderExtrasMarkdown, type ReportExtras } from './render-extras.ts'
import type { ExclusionReason, Valuation, Verdict } from './valuation.ts'

/** A comparable as find-similar returns it; the ranking fields are optional. */
export type ReportComparable = Property & {
  similarity?: number
  distance_km?: number | null
  reasons?: string[]
  /** 'card': the analog's own page could not be had; facts_note says why. */
  facts_source?: 'page' | 'card'
  facts_note?: string
  added_by_user?: boolean
}

/** Everything a report shows: the valuation, the flat, its analogs, the advice and the sections beyond the price. */
export type ReportInput = {
  valuation: Valuation
  target: Property
  comparables: readonly ReportComparable[]
  extras: ReportExtras
  /** ISO timestamp of generation. */
  generated_at: string
  /** Report id, shown in the footer. */
  report_id?: string
}

/** The status cell's additions: added by hand, facts from the card only. */
function analogNotes(c: ReportComparable): string {
  return [c.added_by_user ? 'добавлен вручную' : '', c.facts_source === 'card' && c.facts_note ? c.facts_note : ''].filter(Boolean).join('; ')
}

const VERDICT_RU: Record<Verdict, string> = {
  overpriced: 'Цена завышена',
  underpriced: 'Цена занижена',
  fair: 'Цена соответствует рынку',
}
const VERDICT_RENT_RU: Record<Verdict, string> = {
  overpriced: 'Ставка завышена',
  underpriced: 'Ставка ниже рынка',
  fair: 'Ставка соответствует рынку',
}
const verdictText = (v: Valuation) => (v.verdict ? (v.deal_type === 'rent' ? VERDICT_RENT_RU : VERDICT_RU)[v.verdict] : 'Цена объявления неизвестна')

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

/** Only http(s) links survive; anything else (javascript:, data:) becomes inert. */
function safeHref(url: string): string {
  return /^https?:\/\//i.test(url) ? escapeHtml(url) : '#'
}

function ppsmOf(p: Property): number | null {
  return p.price !== null && p.total_area !== null && p.total_area > 0 ? p.price / p.total_area : null
}

const MARKET_RU = { secondary: 'вторичка', new_building: 'новостройка' } as const

/** «2-комн., 45 м², 5/9 эт.»: what a flat is, in the words of a listing, never its ad slogan. */
export function describe(p: Property): string {
  const parts: string[] = []
  if (p.rooms !== null) parts.push(p.rooms === 0 ? 'студия' : `${p.rooms}-комн.`)
  if (p.total_area !== null) parts.push(`${nf1.format(p.total_area)} м²`)
  if (p.floor !== null) parts.push(p.floors_total !== null ? `${p.floor}/${p.floors_total} эт.` : `${p.floor} эт.`)
  return parts.join(', ')
}

/** «2-комн., 45 м², Москва, ул. Правды, 10»: an analog's name in the report. */
export function analogName(p: Property): string {
  return [describe(p), p.address].filter((x) => x && x !== '').join(', ') || 'объявление'
}

/** One name for confidence everywhere: «надёжность оценки», with its level in words. */
export function confidenceLevel(score: number): string {
  return score >= 75 ? 'высокая' : score >= 50 ? 'средняя' : 'низкая'
}

const dateRu = new Intl.DateTimeFormat('ru-RU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Moscow' })

/** «1 июня 2025 г. в 15:00 (МСК)», or the raw text when it is not a date. */
export function formatDateRu(isoText: string): string {
  const d = new Date(isoText)
  return Number.isNaN(d.getTime()) ? isoText : `${dateRu.format(d)} (МСК)`
}

const STYLE = `
  *, *::before, *::after { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; max-width: 960px; margin: 1.5rem auto; padding: 0 1rem; overflow-wrap: anywhere; }
  h1 { font-size: 1.4rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #e4e7eb; padding-bottom: .25rem; }
  .muted { color: #616e7c; font-size: .9em; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 220px), 1fr)); gap: .75rem; margin: 1rem 0; }
  .card { border: 1px solid #e4e7eb; border-radius: 8px; padding: .75rem 1rem; } .card b { display: block; font-size: 1.35rem; }
  .verdict { display: inline-block; padding: .25rem .75rem; border-radius: 999px; font-weight: 600; }
  .verdict.overpriced { background: #fde8e8; color: #9b1c1c; } .verdict.underpriced { background: #e1effe; color: #1e429f; }
  .verdict.fair { background: #def7ec; color: #03543f; } .verdict.none { background: #f3f4f6; }
  .advice { background: #f0f5ff; border-radius: 8px; padding: .75rem 1rem .75rem 2.25rem; } .advice li + li { margin-top: .35rem; }
  .scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; overflow-wrap: normal; } th { white-space: nowrap; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  td.num, td.status { text-align: right; white-space: nowrap; } td.status { text-align: left; } tr.excluded { color: #7b8794; }
  .analogs { min-width: 34rem; } .analogs td:first-child { min-width: 14rem; }
  svg { display: block; width: 100%; max-width: 560px; height: auto; } a { color: #1a56db; }
  details { margin-top: 2rem; border: 1px solid #e4e7eb; border-radius: 8px; padding: .5rem 1rem; } summary { cursor: pointer; font-weight: 600; }
  @media print { h2, h3 { break-after: avoid; } svg, tr, .card { break-inside: avoid; } }
  @media (max-width: 480px) { body { margin: 1rem auto; padding: 0 .75rem; font-size: 15px; } h1 { font-size: 1.2rem; } table { font-size: .85rem; } }
`

/** What both renderings start from: the words for the deal type, and each analog's row. */
function reportView(input: ReportInput) {
  const v = input.valuation
  const used = new Set(v.used_urls)
  const excludedBy = new Map(v.excluded.map((x) => [x.url, x.reason]))
  const analogs = input.comparables.map((c) => {
    const reason = excludedBy.get(c.url)
    const inUse = used.has(c.url)
    return { c, name: analogName(c), ppsm: ppsmOf(c), used: inUse, status: inUse ? 'в расчёте' : reason ? `исключён: ${EXCLUSION_RU[reason]}` : 'не в расчёте', notes: analogNotes(c) }
  })
  const rent = v.deal_type === 'rent'
  return { v, rent, money: moneyFor(v), title: `${rent ? 'Оценка аренды' : 'Оценка квартиры'}: `, heading: describe(input.target) || input.target.address || 'объект', analogs }
}
type ReportView = ReturnType<typeof reportView>

export function renderReportHtml(input: ReportInput): string {
  const view = reportView(input)
  const { v, title, heading } = view
  const { target, extras } = input
  const e = escapeHtml
  const market = target.market ? MARKET_RU[target.market] : null
  const facts = [market, target.address].filter((x): x is string => Boolean(x))
  return `<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Оценка: ${e(target.title ?? heading)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${title}${e(heading)}</h1>
<p class="muted">${e(facts.join(' · '))}${target.url ? `${facts.length ? ' · ' : ''}<a href="${safeHref(target.url)}" rel="noopener noreferrer">объявление</a>` : ''}</p>
${summarySection(v)}
${renderActionsHtml(extras.advice)}
<h2>Цены за м² похожих квартир</h2>
${renderChartSvg(v, input.comparables)}
<p class="muted">Столбцы — сколько аналогов в каждом диапазоне цены за м²; отметка «Ваша квартира» — цена за м² в объявлении, зелёная линия — справедливая цена за м².</p>
${renderExtrasHtml(extras)}
${analogsSection(view)}
${methodSection(v)}
<p class="muted">Сформировано ${e(formatDateRu(input.generated_at))}${input.report_id ? ` · отчёт ${e(input.report_id)}` : ''}. Оценка ориентировочная: она строится по объявлениям, а не по сделкам.</p>
</body>
</html>
`
}

function summarySection(v: Valuation): string {
  const money = moneyFor(v)
  const rent = v.deal_type === 'rent'
  const verdictClass = v.verdict ?? 'none'
  const [low, high] = v.interval_95.total
  const diff = v.difference === null ? '' : ` <span class="muted">${v.difference > 0 ? 'в объявлении выше справедливой на' : v.difference < 0 ? 'в объявлении ниже справедливой на' : 'в объявлении равна справедливой'}${v.difference === 0 ? '' : ` ${pct(v.difference, false)}`} (${pct(v.difference)})</span>`
  return `<p><span class="verdict ${verdictClass}" data-verdict="${verdictClass}">${escapeHtml(verdictText(v))}</span>${diff}</p>
<div class="cards">
  <div class="card">${rent ? 'Справедливая ставка аренды' : 'Справедливая цена'}<b data-field="fair-price">${escapeHtml(money(v.fair_price))}</b><span class="muted">${nf0.format(v.price_per_sqm.fair)} ₽ за м²${rent ? ' в месяц' : ''}</span></div>
  <div class="card">${rent ? 'Ставка в объявлении' : 'Цена в объявлении'}<b data-field="asking-price">${v.asking_price === null ? '—' : escapeHtml(money(v.asking_price))}</b><span class="muted">${v.price_per_sqm.asking === null ? '' : `${nf0.format(v.price_per_sqm.asking)} ₽ за м²`}</span></div>
  <div class="card">Надёжность оценки<b data-field="confidence">${v.confidence.score} из 100 — ${confidenceLevel(v.confidence.score)}</b><span class="muted">по ${v.analogs_used} ${plural(v.analogs_used, 'аналогу', 'аналогам', 'аналогам')} из ${v.analogs_total}</span></div>
</div>
<p data-field="range">${rent ? 'Такие квартиры сейчас сдаются' : 'Такие квартиры сейчас продаются'} за <b>${escapeHtml(money(roundForPeople(low)))} – ${escapeHtml(money(roundForPeople(high)))}</b>.</p>`
}

function analogsSection({ v, money, analogs }: ReportView): string {
  const rows = analogs
    .map(({ c, name, ppsm, used, status, notes }, i) => `<tr class="${used ? '' : 'excluded'}" data-analog="${i + 1}"><td><a href="${safeHref(c.url)}" rel="noopener noreferrer">${escapeHtml(name)}</a>${c.market ? ` <span class="muted">${MARKET_RU[c.market]}</span>` : ''}</td><td class="num">${c.price === null ? '—' : escapeHtml(money(c.price))}</td><td class="num">${ppsm === null ? '—' : nf0.format(ppsm)}</td><td class="num">${c.distance_km == null ? '—' : `${nf1.format(c.distance_km)} км`}</td><td class="status">${escapeHtml(status)}${notes ? `<div class="muted" data-analog-note>${escapeHtml(notes)}</div>` : ''}</td></tr>`)
    .join('')
  return `<h2>Аналоги</h2>
<div class="scroll"><table class="analogs"><thead><tr><th>Квартира</th><th>${v.deal_type === 'rent' ? 'Ставка' : 'Цена'}</th><th>₽ за м²</th><th>Расстояние</th><th>Статус</th></tr></thead><tbody>${rows}</tbody></table></div>`
}

function methodSection(v: Valuation): string {
  const e = escapeHtml
  const adjustments = v.adjustments.length
    ? `<div class="scroll"><table><thead><tr><th>Параметр</th><th>Объект</th><th>Аналоги</th><th>Коэффициент</th><th>Оценка, ₽/м²</th><th>Основание</th></tr></thead><tbody>${v.adjustments
        .map(
          (a) =>
            `<tr><td>${e(a.label)}</td><td>${e(String(a.target_value))}</td><td>${e(String(a.analogs_value))}</td><td>${a.coefficient.toFixed(3)}</td><td class="num">${nf0.format(a.estimate_per_sqm)}</td><td>${e(a.note)}${a.source ? `<div class="muted">${e(a.source)}</div>` : ''}</td></tr>`,
        )
        .join('')}</tbody></table></div><p class="muted">Справедливая цена за м² — медиана независимых оценок.</p>`
    : '<p>Объект не отличается от аналогов по учитываемым параметрам: справедливая цена за м² равна медиане аналогов.</p>'
  const q = v.price_per_sqm
  return `<details id="method"><summary>Как считали</summary>
<p>База — медиана цены за м² аналогов в расчёте: <b>${nf0.format(q.base_median)} ₽/м²</b> (от ${nf0.format(q.min)} до ${nf0.format(q.max)}, среднее ${nf0.format(q.mean)}).</p>
${q.q1 !== null && q.q3 !== null ? `<p>Межквартильный размах (IQR): ${nf0.format(q.q1)}–${nf0.format(q.q3)} ₽/м²; аналоги дальше 1,5 × IQR от него исключены как выбросы.</p>` : '<p>Фильтр выбросов по IQR не применялся: аналогов меньше пяти.</p>'}
<p>Коэффициент вариации цены за м² (CV): ${pct(v.data_quality.cv, false)} — разброс ${QUALITY_RU[v.data_quality.level]}${v.data_quality.cv_before_filter !== v.data_quality.cv ? ` (до фильтра ${pct(v.data_quality.cv_before_filter, false)})` : ''}.</p>
<p>Диапазон цены — 95-процентный доверительный интервал медианы по t-распределению: ${nf0.format(v.interval_95.per_sqm[0])}–${nf0.format(v.interval_95.per_sqm[1])} ₽/м², то есть ${e(moneyFor(v)(v.interval_95.total[0]))} – ${e(moneyFor(v)(v.interval_95.total[1]))} за ${nf1.format(v.target_area)} м².</p>
<h3>Поправки</h3>
${adjustments}
${v.data_quality.warnings.length ? `<h3>Предупреждения</h3><ul>${v.data_quality.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>` : ''}
<h3>Из чего складывается надёжность оценки (${v.confidence.score} из 100)</h3>
<ul>${v.confidence.reasons.map((x) => `<li>${e(x)}</li>`).join('')}</ul>
<p class="muted">Метод: медиана цены за м² после фильтра IQR, независимые поправки по параметрам, вердикт при отклонении больше ±5 %. Рекомендуемая цена — справедливая +5 % (+3 %, если объявление немного выше рынка; без наценки, если выше больше чем на 5 %); минимально приемлемая — рекомендуемая −5 %.</p>
</details>`
}

/**
 * The distribution of the comparables' price per m²: a histogram of the analogs (filled bars: in the
 * valuation; each analog also a dot, hollow when excluded), the owner's flat marked «Ваша квартира»
 * at its asking price per m², and the fair price per m² as a green line.
 */
export function renderChartSvg(v: Valuation, comparables: readonly ReportComparable[]): string {
  // A narrow drawing with large type: on a phone it is shown at ~330 px and its labels stay legible.
  const W = 480
  const H = 300
  const M = { left: 20, right: 20, top: 52, bottom: 56 }
  const used = new Set(v.used_urls)
  const points = comparables.map((c) => ({ c, x: ppsmOf(c) })).filter((p): p is { c: ReportComparable; x: number } => p.x !== null)
  const marks = [v.price_per_sqm.fair, ...(v.price_per_sqm.asking === null ? [] : [v.price_per_sqm.asking])]
  let lo = Math.min(...points.map((p) => p.x), ...marks)
  let hi = Math.max(...points.map((p) => p.x), ...marks)
  if (hi === lo) {
    lo *= 0.9
    hi *= 1.1
  }
  const pad = (hi - lo) * 0.06
  lo = Math.max(0, lo - pad)
  hi += pad
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const sx = (x: number) => M.left + ((x - lo) / (hi - lo)) * plotW
  const bins = Math.min(8, Math.max(4, Math.ceil(Math.sqrt(points.length)) + 2))
  const width = (hi - lo) / bins
  const counts = Array.from({ length: bins }, (_, i) => points.filter((p) => used.has(p.c.url) && Math.min(bins - 1, Math.floor((p.x - lo) / width)) === i).length)
  const maxCount = Math.max(1, ...counts)
  const barH = (n: number) => (n / maxCount) * (plotH - 24)
  const base = M.top + plotH
  const bars = counts
    .map((n, i) => (n === 0 ? '' : `<rect class="bin" x="${(sx(lo + i * width) + 1).toFixed(1)}" y="${(base - barH(n)).toFixed(1)}" width="${Math.max(1, plotW / bins - 2).toFixed(1)}" height="${barH(n).toFixed(1)}" fill="#c3d5fb"><title>${n} ${plural(n, 'аналог', 'аналога', 'аналогов')}: ${nf0.format(lo + i * width)}–${nf0.format(lo + (i + 1) * width)} ₽/м²</title></rect><text x="${(sx(lo + (i + 0.5) * width)).toFixed(1)}" y="${(base - barH(n) - 4).toFixed(1)}" text-anchor="middle" font-size="16" fill="#1e429f">${n}</text>`))
    .join('')
  const dots = points
    .map(({ c, x }, i) => {
      const on = used.has(c.url)
      return `<circle class="analog-mark" cx="${sx(x).toFixed(1)}" cy="${(base - 6).toFixed(1)}" r="5" fill="${on ? '#1a56db' : 'none'}" stroke="#1a56db" stroke-width="2"><title>${escapeHtml(`${analogName(c)}: ${nf0.format(x)} ₽/м²${on ? '' : ' (исключён)'}`)}</title></circle>`
    })
    .join('')
  const ticks = Array.from({ length: 4 }, (_, i) => lo + ((hi - lo) * i) / 3)
  const axis = ticks
    .map((t, i) => `<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${base}" y2="${base + 5}" stroke="#9aa5b1"/><text x="${sx(t).toFixed(1)}" y="${base + 20}" text-anchor="${i === 0 ? 'start' : i === 3 ? 'end' : 'middle'}" font-size="16" fill="#52606d">${shortRub(t)}</text>`)
    .join('')
  const vline = (x: number, color: string, label: string, cls: string, dash: string, y: number, anchor: string) =>
    `<line class="${cls}" x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${M.top - 8}" y2="${base}" stroke="${color}" stroke-width="2.5" stroke-dasharray="${dash}"/><text x="${(anchor === 'middle' ? W / 2 : sx(x)).toFixed(1)}" y="${y}" text-anchor="${anchor}" font-size="17" font-weight="600" fill="${color}">${label}</text>`
  const fairX = sx(v.price_per_sqm.fair)
  const asking = v.price_per_sqm.asking
  const askingLeft = asking !== null && sx(asking) < fairX
  // A label goes to its preferred side of its line when it fits there, else to the side where it fits.
  const anchorFor = (x: number, left: boolean, label: string) => {
    const width = label.length * 17 * 0.62
    const fitsRight = x + width <= W - 4
    const fitsLeft = x - width >= 4
    if (left ? fitsLeft : !fitsRight && fitsLeft) return 'end'
    if (fitsRight) return 'start'
    return 'middle'
  }
  const fairLabel = `Справедливая: ${nf0.format(v.price_per_sqm.fair)} ₽/м²`
  const askingLabel = asking === null ? '' : `Ваша квартира: ${nf0.format(asking)} ₽/м²`
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Распределение цены за м² аналогов, цена за м² вашей квартиры и справедливая цена">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>
<line x1="${M.left}" x2="${W - M.right}" y1="${base}" y2="${base}" stroke="#9aa5b1"/>
${bars}
${dots}
${axis}
${vline(v.price_per_sqm.fair, '#057a55', fairLabel, 'fair-line', '0', M.top - 14, anchorFor(fairX, !askingLeft, fairLabel))}
${asking === null ? '' : vline(asking, '#c81e1e', askingLabel, 'asking-line', '6 4', M.top - 34, anchorFor(sx(asking), askingLeft, askingLabel))}
<text x="${M.left + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="16" fill="#52606d">Цена за м², ₽ (точки — аналоги)</text>
</svg>`
}

/** «185 тыс.» / «1,2 млн» for chart axes: legible when the chart shrinks to a phone's width. */
function shortRub(n: number): string {
  if (n >= 1_000_000) return `${nf1.format(n / 1_000_000)} млн`
  if (n >= 1_000) return `${nf0.format(n / 1_000)} тыс.`
  return nf0.format(n)
}

// ---------------------------------------------------------------- Markdown

export function renderReportMarkdown(input: ReportInput): string {
  const { v, rent, money, title, heading, analogs } = reportView(input)
  const { target, extras } = input
  const m = escapeMarkdown
  const lines: string[] = []
  lines.push(`# ${title}${m(heading)}`, '')
  if (target.address) lines.push(`${m([target.market ? MARKET_RU[target.market] : null, target.address].filter(Boolean).join(' · '))}`, '')
  lines.push(`**${verdictText(v)}**${v.difference === null ? '' : ` (цена объявления ${pct(v.difference)} к справедливой)`}`, '')
  lines.push(`- ${rent ? 'Справедливая ставка аренды' : 'Справедливая цена'}: **${money(v.fair_price)}** (${nf0.format(v.price_per_sqm.fair)} ₽/м²)`)
  lines.push(`- ${rent ? 'Ставка в объявлении' : 'Цена объявления'}: ${v.asking_price === null ? '—' : money(v.asking_price)}`)
  lines.push(`- ${rent ? 'Такие квартиры сдаются' : 'Такие квартиры продаются'} за ${money(roundForPeople(v.interval_95.total[0]))} – ${money(roundForPeople(v.interval_95.total[1]))}`)
  lines.push(`- Надёжность оценки: ${v.confidence.score} из 100 — ${confidenceLevel(v.confidence.score)}; аналогов в расчёте ${v.analogs_used} из ${v.analogs_total}`, '')
  lines.push(renderActionsMarkdown(extras.advice), renderExtrasMarkdown(extras))
  lines.push('## Аналоги', '', `| # | Квартира | ${rent ? 'Ставка' : 'Цена'} | ₽/м² | Расстояние | Статус |`, '|---:|---|---:|---:|---:|---|')
  analogs.forEach(({ c, name, ppsm, status, notes }, i) => {
    const link = /^https?:\/\//i.test(c.url) ? `[${m(name)}](<${c.url.replace(/[<>\s]/g, '')}>)` : m(name)
    lines.push(`| ${i + 1} | ${link} | ${c.price === null ? '—' : money(c.price)} | ${ppsm === null ? '—' : nf0.format(ppsm)} | ${c.distance_km == null ? '—' : `${nf1.format(c.distance_km)} км`} | ${status}${notes ? `; ${m(notes)}` : ''} |`)
  })
  lines.push('', '## Как считали', '', `База (медиана аналогов): ${nf0.format(v.price_per_sqm.base_median)} ₽/м²; CV ${pct(v.data_quality.cv, false)}; 95 % t-интервал ${nf0.format(v.interval_95.per_sqm[0])}–${nf0.format(v.interval_95.per_sqm[1])} ₽/м²`, '')
  if (v.adjustments.length) {
    lines.push('| Параметр | Объект | Аналоги | Коэффициент | ₽/м² |', '|---|---|---|---:|---:|')
    for (const a of v.adjustments) {
      lines.push(`| ${m(a.label)} | ${m(String(a.target_value))} | ${m(String(a.analogs_value))} | ${a.coefficient.toFixed(3)} | ${nf0.format(a.estimate_per_sqm)} |`)
    }
  } else lines.push('Поправок нет.')
  lines.push('', `_Сформировано ${m(formatDateRu(input.generated_at))}._`, '')
  return lines.join('\n')
}
