import * as cheerio from 'cheerio'
import { describe, expect, it } from 'vitest'
import { emptyProperty, type Property } from '../../../src/tasks/parse/property.ts'
import { renderReportHtml, renderReportMarkdown } from '../../../src/tasks/report/render.ts'
import { valuate } from '../../../src/tasks/report/valuation.ts'

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
const meta = { generated_at: '2025-06-01T12:00:00Z', report_id: 'job-1' }

const text = (s: string) => s.replace(/\s+/g, ' ').trim()

describe('renderReportHtml', () => {
  const html = renderReportHtml(valuation, target, analogs, meta)
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

  it('draws one mark per analog and the two reference lines', () => {
    const svg = $('svg')
    expect(svg.length).toBe(1)
    expect(svg.find('circle.analog-mark').length).toBe(analogs.length)
    // the IQR outlier is drawn hollow
    expect(svg.find('circle.analog-mark[fill=none]').length).toBe(1)
    expect(svg.find('line.fair-line').length).toBe(1)
    expect(svg.find('line.asking-line').length).toBe(1)
    expect(svg.text()).toContain('₽ за м²')
    expect(text(svg.text())).toContain('Справедливая: 208 000 ₽/м²')
  })

  it('escapes page strings everywhere and neutralises bad links', () => {
    expect($('script').length).toBe(0)
    expect(html).not.toContain(EVIL)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect($('img').length).toBe(0)
    expect($('head > title').text()).toBe(`Оценка: ${EVIL}`)
    expect($('a[href^="javascript"]').length).toBe(0)
  })

  it('lists every analog with its status', () => {
    const rows = $('table').last().find('tbody tr')
    expect(rows.length).toBe(analogs.length)
    expect(text(rows.eq(6).text())).toContain('исключён: выброс по цене за м² (IQR)')
  })
})

describe('renderReportMarkdown', () => {
  const md = renderReportMarkdown(valuation, target, analogs, meta)

  it('carries the fair price, verdict and one row per analog, escaped', () => {
    expect(text(md)).toContain('Справедливая цена: **10 400 000 ₽**')
    expect(md).toContain('**Цена завышена**')
    expect(md.split('\n').filter((l) => /^\| \d+ \|/.test(l))).toHaveLength(analogs.length)
    expect(md).not.toContain('<script>')
    expect(md).not.toContain('<img')
  })
})
