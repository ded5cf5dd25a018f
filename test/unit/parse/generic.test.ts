import { describe, expect, it } from 'vitest'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { PropertySchema, type Property } from '../../../src/tasks/parse/property.ts'

const URL = 'https://realty.example.org/offer/42'

function parseGeneric(html: string, url = URL): Property {
  const outcome = parsePage(html, url)
  if (outcome.blocked) throw new Error(`unexpected block: ${outcome.reason}`)
  return PropertySchema.parse(outcome.property)
}

const page = (head: string, body = '') => `<!doctype html><html><head>${head}</head><body>${body}</body></html>`

describe('generic extractor', () => {
  it('reads a schema.org Apartment offer from JSON-LD', () => {
    const jsonLd = {
      '@context': 'https://schema.org',
      '@graph': [
        { '@type': 'Organization', name: 'Агентство' },
        {
          '@type': ['Offer'],
          price: '12 500 000',
          priceCurrency: 'RUB',
          itemOffered: {
            '@type': 'Apartment',
            name: '2-комн. квартира, 54,3 м²',
            numberOfRooms: { '@type': 'QuantitativeValue', value: 2 },
            floorSize: { '@type': 'QuantitativeValue', value: '54.3', unitCode: 'MTK' },
            address: { '@type': 'PostalAddress', addressLocality: 'Казань', streetAddress: 'ул. Баумана, 1' },
            geo: { latitude: 55.79, longitude: 49.11 },
            image: [{ '@type': 'ImageObject', url: 'https://img.example.org/1.jpg' }],
          },
        },
      ],
    }
    const property = parseGeneric(page(`<script type="application/ld+json">${JSON.stringify(jsonLd)}</script>`))
    expect(property).toMatchObject({
      source: 'generic',
      title: '2-комн. квартира, 54,3 м²',
      price: 12_500_000,
      currency: 'RUB',
      total_area: 54.3,
      rooms: 2,
      address: 'Казань, ул. Баумана, 1',
      city: 'Казань',
      region: 'kazan',
      lat: 55.79,
      lon: 49.11,
      photos: ['https://img.example.org/1.jpg'],
    })
  })

  it('reads title, price, photos and coordinates from OpenGraph', () => {
    const property = parseGeneric(
      page(
        [
          '<meta property="og:title" content="Студия, 25 м²">',
          '<meta property="og:url" content="https://realty.example.org/offer/42?utm=1">',
          '<meta property="og:image" content="https://img.example.org/a.jpg">',
          '<meta property="og:image" content="https://img.example.org/b.jpg">',
          '<meta property="product:price:amount" content="4100000">',
          '<meta property="product:price:currency" content="RUB">',
          '<meta property="place:location:latitude" content="59.93">',
          '<meta property="place:location:longitude" content="30.31">',
        ].join(''),
      ),
    )
    expect(property).toMatchObject({
      title: 'Студия, 25 м²',
      url: 'https://realty.example.org/offer/42?utm=1',
      rooms: 0,
      price: 4_100_000,
      currency: 'RUB',
      lat: 59.93,
      lon: 30.31,
      photos: ['https://img.example.org/a.jpg', 'https://img.example.org/b.jpg'],
    })
  })

  it('reads microdata inside a Product scope', () => {
    const property = parseGeneric(
      page(
        '',
        `<div itemscope itemtype="http://schema.org/Product">
           <span itemprop="name">3-комн. квартира</span>
           <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
             <meta itemprop="price" content="9900000"><meta itemprop="priceCurrency" content="RUB">
           </div>
           <div itemprop="address" itemscope itemtype="http://schema.org/PostalAddress">
             <span itemprop="addressLocality">Москва</span> <span itemprop="streetAddress">Тверская ул., 7</span>
           </div>
           <meta itemprop="latitude" content="55.76"><meta itemprop="longitude" content="37.61">
         </div>`,
      ),
    )
    expect(property).toMatchObject({
      title: '3-комн. квартира',
      rooms: 3,
      price: 9_900_000,
      currency: 'RUB',
      address: 'Москва, Тверская ул., 7',
      city: 'Москва',
      region: 'msk',
      lat: 55.76,
      lon: 37.61,
    })
  })

  it('maps Russian label tables, definition lists and "Label: value" lines', () => {
    const property = parseGeneric(
      page(
        '<title>Объявление</title>',
        `<h1>Продаётся квартира</h1>
         <table><tr><th>Цена</th><td>7,2 млн ₽</td></tr><tr><td>Общая площадь</td><td>61,5 м²</td></tr>
           <tr><td>Комнат</td><td>2</td></tr><tr><td>Этаж</td><td>7 из 17</td></tr></table>
         <dl><dt>Кухня</dt><dd>12 м²</dd><dt>Год постройки</dt><dd>2009</dd><dt>Тип дома</dt><dd>Панельный</dd></dl>
         <ul><li>Адрес: Новосибирск, ул. Ленина, 5</li><li>Высота потолков: 2,65 м</li><li>Срок сдачи: 4 кв. 2027</li></ul>`,
      ),
    )
    expect(property).toMatchObject({
      title: 'Продаётся квартира',
      price: 7_200_000,
      currency: 'RUB',
      total_area: 61.5,
      kitchen_area: 12,
      rooms: 2,
      floor: 7,
      floors_total: 17,
      year_built: 2009,
      completion_year: 2027,
      house_type: 'Панельный',
      ceiling_height: 2.65,
      address: 'Новосибирск, ул. Ленина, 5',
    })
    expect(property.characteristics).toMatchObject({ Цена: '7,2 млн ₽', Кухня: '12 м²' })
  })

  it('keeps land area in сотки apart from flat area', () => {
    const property = parseGeneric(page('', '<table><tr><td>Площадь участка</td><td>6 сот.</td></tr></table>'))
    expect(property.land_area).toBe(600)
    expect(property.total_area).toBeNull()
  })

  it('leaves every field null on a page that gives nothing', () => {
    const property = parseGeneric(page('', '<p>Привет</p>'))
    const filled = Object.entries(property).filter(
      ([key, value]) =>
        !['source', 'url', 'metro', 'metro_details', 'photos', 'characteristics'].includes(key) && value !== null,
    )
    expect(filled).toEqual([])
  })

  it('uses the yandex source for realty.yandex.ru pages', () => {
    expect(parseGeneric(page('<title>x</title>'), 'https://realty.yandex.ru/offer/1/').source).toBe('yandex')
  })
})

describe('block detection', () => {
  it('flags a captcha widget page without listing markup', () => {
    const outcome = parsePage(page('<title>Проверка</title>', '<div class="g-recaptcha"></div>'), URL)
    expect(outcome).toMatchObject({ blocked: true, site: 'realty.example.org' })
  })

  it('does not flag a listing that merely loads recaptcha', () => {
    const html = page(
      '<title>Квартира</title><script src="https://www.google.com/recaptcha/api.js"></script>',
      '<h1>1-комн. квартира</h1><meta itemprop="price" content="100">',
    )
    expect(parsePage(html, URL).blocked).toBe(false)
  })
})

describe('no invented values, no false block verdicts', () => {
  it('resolves a relative og:url against the page URL and strips tracking parameters', () => {
    const property = parseGeneric(page('<meta property="og:url" content="/offer/42?utm_source=x&gclid=1&id=7#top"><meta property="og:type" content="https://schema.org/Offer">'), 'https://realty.example.org/list?from=serp')
    expect(property.url).toBe('https://realty.example.org/offer/42?id=7')
    // og:type is a kind of page, never an address or a property type.
    expect(JSON.stringify(property)).not.toContain('schema.org/Offer')
  })

  it('never reads a house number or a корпус as a room count', () => {
    for (const title of ['Квартира, ул. Ленина, 52к1', 'Продажа квартиры, д. 12 к 3', 'пр. Мира, 52 к.2, 3/9 эт.']) {
      const property = parseGeneric(page(`<title>${title}</title>`, `<h1>${title}</h1>`))
      expect(property.rooms, title).toBeNull()
    }
    expect(parseGeneric(page('<title>2-к. квартира, 54 м²</title>')).rooms).toBe(2)
  })

  it('a listing whose scripts mention captcha is a listing; the same markers without listing facts are a block page', () => {
    const script = '<script>window.grecaptcha = {}; loadCaptcha("captcha")</script><div class="g-recaptcha"></div>'
    const listing = page('<title>Квартира — captcha-free</title>' + script, '<h1>2-комн. квартира</h1><table><tr><th>Цена</th><td>9 500 000 ₽</td></tr></table>')
    expect(parsePage(listing, URL)).toMatchObject({ blocked: false, property: { price: 9_500_000 } })
    expect(parsePage(page('<title>Проверка</title>' + script, '<p>Подтвердите, что вы не робот</p>'), URL).blocked).toBe(true)
  })

  it('a price range is not one price, and a bare "$" on a page that names AUD is not US dollars', () => {
    const range = parseGeneric(page('', '<div class="price">$470,000 - $500,000</div>'))
    expect(range.price).toBeNull()
    const aud = parseGeneric(page('<meta property="product:price:amount" content="470000"><meta property="product:price:currency" content="AUD">'))
    expect(aud).toMatchObject({ price: 470_000, currency: 'AUD' })
  })

  it('reads embedded state of any shape: the object that carries the URL\'s offer id, its typed facts, square feet converted', () => {
    const state = { page: { similar: [{ id: 1, price: 1, livingArea: 10 }], listing: { id: 987654, price: { value: 550000, currency: 'GBP' }, facts: [{ type: 'livingSpace', value: '1,797 sq ft' }], yearBuilt: 1990, location: { latitude: 51.5, longitude: -0.1 } } } }
    const html = page(`<script>window.__INITIAL_STATE__ = ${JSON.stringify(state)};</script>`)
    const property = parseGeneric(html, 'https://homes.example.co.uk/for-sale/details/987654/')
    expect(property).toMatchObject({ price: 550_000, currency: 'GBP', total_area: 166.95, year_built: 1990, lat: 51.5, lon: -0.1, deal_type: 'sale', offer_id: '987654' })
  })
})
