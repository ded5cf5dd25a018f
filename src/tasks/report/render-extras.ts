/**
 * @module Report sections of the valuation product beyond the price: what to do, sale scenarios and
 * time on market, strengths and weaknesses, and the analogs the user added or excluded. HTML and
 * Markdown; page text escaped.
 */
import type { Property } from '../parse/property.ts'
import type { Advice } from './advice.ts'
import { escapeHtml, escapeMarkdown, moneyFor, nf0, nf1 } from './format.ts'
import { DEAL_WORDS, type SaleScenarios } from './scenarios.ts'

export type ReportExtras = {
  scenarios: SaleScenarios
  advice: Advice
  /** Analogs the user added by hand (their URLs and titles). */
  added: ReadonlyArray<Pick<Property, 'url' | 'title' | 'address'>>
  /** URLs the user excluded. */
  excluded: readonly string[]
}

/** «Что сделать»: the price to set first, each thing once (the section the report leads with). */
export function renderActionsHtml(advice: Advice): string {
  return `<h2>Что сделать</h2>
<ol class="advice" data-section="actions">${advice.actions.map((a) => `<li data-action="${a.topic}">${escapeHtml(a.text)}</li>`).join('')}</ol>`
}

export function renderActionsMarkdown(advice: Advice): string {
  return ['## Что сделать', '', ...advice.actions.map((a, i) => `${i + 1}. ${escapeMarkdown(a.text)}`), ''].join('\n')
}

function daysText(s: SaleScenarios['scenarios'][number]): string {
  if (s.days !== null) return `≈ ${nf0.format(s.days)} дн.`
  if (s.days_at_least !== null) return `больше ${nf0.format(s.days_at_least)} дн.`
  return 'мало данных'
}

export function renderExtrasHtml(x: ReportExtras): string {
  const e = escapeHtml
  const s = x.scenarios
  const W = DEAL_WORDS[s.deal]
  // Scenario prices are in roubles, as the valuation's; a rent is per month.
  const money = moneyFor({ currency: 'RUB', deal_type: s.deal })
  const scenarios = s.available
    ? `<table data-section="scenarios"><thead><tr><th>Цена в объявлении</th><th></th><th>${W.term}</th><th>Аналогов</th><th>Уверенность</th></tr></thead><tbody>${s.scenarios
        .map((row) => `<tr><td>${e(row.label)}</td><td class="num">${money(row.price)}</td><td>${e(daysText(row))}</td><td>${e(row.note)}</td><td>${e(row.confidence ?? '—')}</td></tr>`)
        .join('')}</tbody></table>`
    : ''
  const listed = s.median_days_listed === null ? '' : ` Аналоги, которые ${W.still}, выставлены в среднем (медиана) ${nf0.format(s.median_days_listed)} дн.`
  const cuts = s.price_cuts.count > 0 && s.price_cuts.median_cut !== null ? ` Снижали цену: ${s.price_cuts.count} (медиана −${nf1.format(s.price_cuts.median_cut * 100)} %).` : ''
  const list = (items: readonly string[]) => (items.length ? `<ul>${items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>` : '<p class="muted">Нет.</p>')
  const changes =
    x.added.length || x.excluded.length
      ? `<h2>Аналоги, изменённые вами</h2>${x.added.length ? `<p>Добавлены вручную:</p><ul>${x.added.map((a) => `<li data-added-analog>${e(a.title ?? a.address ?? a.url)} <span class="muted">${e(a.url)}</span></li>`).join('')}</ul>` : ''}${x.excluded.length ? `<p>Исключены из расчёта:</p><ul>${x.excluded.map((u) => `<li data-excluded-analog>${e(u)}</li>`).join('')}</ul>` : ''}`
      : ''
  return `<h2>${W.section}</h2>
${scenarios}
<p class="muted" data-field="scenarios-method">${e(s.method)}${e(listed)}${e(cuts)}</p>

<h2>Сильные и слабые стороны</h2>
<h3>Сильные стороны</h3>
${list(x.advice.strengths)}
<h3>Слабые стороны</h3>
${list(x.advice.weaknesses)}
${changes}`
}

export function renderExtrasMarkdown(x: ReportExtras): string {
  const m = escapeMarkdown
  const s = x.scenarios
  const W = DEAL_WORDS[s.deal]
  // Scenario prices are in roubles, as the valuation's; a rent is per month.
  const money = moneyFor({ currency: 'RUB', deal_type: s.deal })
  const lines = [`## ${W.section}`, '']
  if (s.available) {
    lines.push(`| Цена в объявлении | | ${W.term} | Аналогов | Уверенность |`, '|---|---:|---|---|---|')
    for (const row of s.scenarios) lines.push(`| ${row.label} | ${money(row.price)} | ${daysText(row)} | ${m(row.note)} | ${row.confidence ?? '—'} |`)
    lines.push('')
  }
  lines.push(m(s.method), '')
  const section = (title: string, items: readonly string[]) => [`## ${title}`, '', ...(items.length ? items.map((i) => `- ${m(i)}`) : ['Нет.']), '']
  lines.push(...section('Сильные стороны', x.advice.strengths), ...section('Слабые стороны', x.advice.weaknesses))
  if (x.added.length || x.excluded.length) {
    lines.push('## Аналоги, изменённые вами', '')
    for (const a of x.added) lines.push(`- добавлен: ${m(a.title ?? a.address ?? a.url)} (${m(a.url)})`)
    for (const u of x.excluded) lines.push(`- исключён: ${m(u)}`)
    lines.push('')
  }
  return lines.join('\n')
}
