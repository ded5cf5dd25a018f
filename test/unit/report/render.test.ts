import * as cheerio from 'cheerio'
import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { adviseOwner } from '../../../src/tasks/report/advice.ts'
import { renderReportHtml, renderReportMarkdown, type ReportInput } from '../../../src/tasks/report/render.ts'
import { estimateScenarios } from '../../../src/tasks/report/scenarios.ts'
import { valuate, type Valuation } from '../../../src/tasks/report/valuation.ts'

const EVIL = '<script>alert(1)</script>'

function flat(ppsm: number, over: Partial<Property> = {}): Property {
  return {
    ...emptyProperty('cian', `https://www.cian.ru/sale/flat/${Math.round(ppsm)}${over.title ? 'x' : ''}/`),
    deal_type: 'sale',
    region: 'msk',
    currency: 'RUB',
    title: `Квартира ${ppsm}`,
    address: 'Москва, улица Правды, 10',
    rooms: 2,
    price: ppsm * 50,
    total_area: 50,
    floor: 5,
    floors_total: 9,
    repair: 'стандартная',
    ceiling_height: 2.7,
    ...over,
  }
}

// Same worked example as valuation.test.ts: fair 208 000 ₽/m², 10 400 000 ₽, 400 000 ₽/m² is an outlier.
const analogs = [180_000, 190_000, 200_000, 205_000, 210_000, 220_000, 400_000].map((p, i) =>
  flat(p, i === 2 ? { title: EVIL, address: `"><img src=x onerror=alert(2)>` } : {}),
)
analogs[3] = { ...analogs[3], price: 200_000 * 50 }
const target = flat(220_000, { title: EVIL, url: 'javascript:alert(3)', repair: 'евроремонт', ceiling_height: 3.0 })
const valuation = valuate(target, analogs, { currentYear: 2025 })

/** The report task's input for a valuation: advice from it, no market history. */
function reportOf(v: Valuation, target: Property, comparables: Property[]): ReportInput {
  const scenarios = estimateScenarios({ fairPrice: v.fair_price, marketPerSqm: v.price_per_sqm.base_median, history: [], now: new Date('2025-06-01T12:00:00Z'), deal: v.deal_type })
  const extras = { scenarios, advice: adviseOwner(v, comparables, scenarios), added: [], excluded: [] }
  return { valuation: v, target, comparables, extras, generated_at: '2025-06-01T12:00:00Z', report_id: 'job-1' }
}
const input = reportOf(valuation, target, analogs)
const occurrences = (text: string, part: string) => text.split(part).length - 1

const text = (s: string) => s.replace(/\s+/g, ' ').trim()

describe('renderReportHtml', () => {
  const html = renderReportHtml(input)
  const $ = cheerio.load(html)

  it('is a complete standalone Russian document', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect($('html').attr('lang')).toBe('ru')
    expect($('link[rel=stylesheet], script[src], img[src]').length).toBe(0)
    expect($('style').length).toBe(1)
  })

  it('shows the fair price and the verdict', () => {
    expect(valuation.fair_price).toBe(10_400_000)
    expect(text($('[data-field=fair-price]').text())).toBe('10 400 000 ₽')
    // asking 11 000 000 vs 10 400 000 → +5.8 % → overpriced
    expect($('[data-verdict]').attr('data-verdict')).toBe('overpriced')
    expect($('[data-verdict]').text()).toBe('Цена завышена')
    expect(text($('body').text())).toContain('+5,8 %')
  })

  it('draws the price-per-m² distribution with the owner\'s flat marked and the fair line', () => {
    const svg = $('svg')
    expect(svg.length).toBe(1)
    expect(svg.find('circle.analog-mark').length).toBe(analogs.length)
    // the IQR outlier is drawn hollow and left out of the histogram
    expect(svg.find('circle.analog-mark[fill=none]').length).toBe(1)
    const binned = svg.find('rect.bin title').map((_, t) => Number(/^(\d+)/.exec($(t).text())?.[1])).get()
    expect(binned.reduce((a, b) => a + b, 0)).toBe(valuation.analogs_used)
    expect(svg.find('line.fair-line').length).toBe(1)
    expect(svg.find('line.asking-line').length).toBe(1)
    expect(text(svg.text())).toContain('Ваша квартира: 220 000 ₽/м²')
    expect(text(svg.text())).toContain('Справедливая: 208 000 ₽/м²')
    expect(svg.text()).not.toContain('номер в таблице')
  })

  it('speaks to an owner: one range, a recommended price with its reason, the method collapsed', () => {
    expect(text($('[data-field=range]').text())).toMatch(/^Такие квартиры сейчас продаются за [\d  ]+ ₽ – [\d  ]+ ₽\.$/)
    expect(text($('[data-field=confidence]').text())).toMatch(/^\d+ из 100 — (высокая|средняя|низкая)$/)
    expect(text($('[data-action=price]').text())).toContain('на торг')
    expect($('details#method').attr('open')).toBeUndefined()
    const method = text($('details#method').text())
    for (const word of ['Как считали', 'CV', 'IQR', 't-распределению']) expect(method).toContain(word)
    expect(text($('body').text())).not.toMatch(/Достоверность|Уверенность/)
    expect(text($('body').text())).toContain('1 июня 2025 г.')
  })

  it('says what to do in one section, the price to set first, each sum once', () => {
    const body = text($('body').text())
    expect($('h2').map((_, h) => $(h).text()).get().filter((t) => /Что сделать|За сколько|Какую ставку/.test(t))).toEqual(['Что сделать'])
    const actions = $('ol[data-section=actions] li')
    expect(actions.first().attr('data-action')).toBe('price')
    // 10 400 000 fair, asking +5,8 % → overpriced, no listing premium; the floor is 95 % of it.
    expect(text(actions.first().text())).toBe('Цена объявления на 5,8 % выше справедливой: чтобы продать в разумный срок, поставьте 10 400 000 ₽ — справедливую цену без наценки на торг.')
    expect(text($('[data-action=bargaining]').text())).toMatch(/^При торге не опускайтесь ниже 9 880 000 ₽; если продать нужно быстро — не ниже [\d ]+ ₽\.$/)
    expect(occurrences(body, '9 880 000 ₽')).toBe(1)
    expect(occurrences(body, 'При торге')).toBe(1)
    expect($('[data-action=listing]').text()).toContain('высота потолков')
  })

  it('escapes page strings everywhere and neutralises bad links', () => {
    expect($('script').length).toBe(0)
    expect(html).not.toContain(EVIL)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect($('img').length).toBe(0)
    expect($('head > title').text()).toBe(`Оценка: ${EVIL}`)
    expect($('a[href^="javascript"]').length).toBe(0)
  })

  it('lists every analog by rooms, area and address, with its status', () => {
    const rows = $('table.analogs tbody tr')
    expect(rows.length).toBe(analogs.length)
    expect(text(rows.eq(0).find('td').first().text())).toBe('2-комн., 50 м², 5/9 эт., Москва, улица Правды, 10')
    expect(text(rows.eq(6).text())).toContain('исключён: выброс по цене за м² (IQR)')
    expect($('table.analogs').parent().hasClass('scroll')).toBe(true)
  })
})

describe('a rental report', () => {
  const rentals = [500, 520, 540, 560, 580, 600].map((p) => flat(p, { deal_type: 'rent', price: p * 50, url: `https://tyumen.cian.ru/rent/flat/${p}/` }))
  const tenant = flat(560, { deal_type: 'rent', price: 28_000, url: 'https://tyumen.cian.ru/rent/flat/1/' })
  const v = valuate(tenant, rentals, { currentYear: 2025 })
  const $r = cheerio.load(renderReportHtml(reportOf(v, tenant, rentals)))
  const body = text($r('body').text())

  it('says rent per month everywhere and never offers a quick sale', () => {
    expect(text($r('[data-field=fair-price]').text())).toMatch(/^[\d  ]+ ₽\/мес$/)
    expect(text($r('[data-field=asking-price]').text())).toBe('28 000 ₽/мес')
    expect(body).toContain('Оценка аренды')
    expect(body).toContain('Такие квартиры сейчас сдаются')
    expect(text($r('[data-action=price]').text())).toMatch(/справедливую ставку (плюс [\d,]+ % на торг|без наценки на торг)/)
    expect(text($r('[data-action=bargaining]').text())).toMatch(/^При торге не снижайте ставку ниже [\d ]+ ₽\/мес\.$/)
    expect(body).not.toMatch(/быстр|продать|продаются|покупател/i)
    const md = renderReportMarkdown(reportOf(v, tenant, rentals))
    expect(text(md)).toContain('28 000 ₽/мес')
    expect(md).not.toMatch(/быстр|продать|покупател/i)
  })
})

describe('renderReportMarkdown', () => {
  const md = renderReportMarkdown(input)

  it('carries the fair price, verdict, one «Что сделать» and one row per analog, escaped', () => {
    expect(text(md)).toContain('Справедливая цена: **10 400 000 ₽**')
    expect(md.split('\n').filter((l) => l.startsWith('## ') && /Что сделать|За сколько|Какую ставку/.test(l))).toEqual(['## Что сделать'])
    expect(text(md)).toContain('1. Цена объявления на 5,8 % выше справедливой: чтобы продать в разумный срок, поставьте 10 400 000 ₽')
    expect(occurrences(text(md), '9 880 000 ₽')).toBe(1)
    expect(md).toContain('**Цена завышена**')
    expect(md.split('\n').filter((l) => /^\| \d+ \|/.test(l))).toHaveLength(analogs.length)
    expect(md).not.toContain('<script>')
    expect(md).not.toContain('<img')
  })
})
