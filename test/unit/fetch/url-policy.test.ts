import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import {
  checkListingUrl,
  checkWebhookUrl,
  isWebhookAllowlisted,
  redirectSiteUrl,
  rewriteUrl,
} from '../../../src/fetch/url-policy.ts'

const config = { listingHosts: ['etagi.com'], webhookAllowlist: ['127.0.0.1:4000', 'http://[::1]:5000', 'hooks.internal'] }

function rejection(run: () => unknown): { code: string; reason: unknown } {
  try {
    run()
  } catch (e) {
    if (e instanceof AppError) return { code: e.code, reason: (e.details as { reason?: unknown }).reason }
    throw e
  }
  throw new Error('expected a rejection')
}

const HOSTILE_LISTING_URLS: ReadonlyArray<readonly [string, string]> = [
  ['http://127.0.0.1/', 'ip-literal'],
  ['http://127.1/', 'ip-literal'],
  ['http://10.0.0.5/', 'ip-literal'],
  ['http://172.16.3.4/', 'ip-literal'],
  ['http://192.168.1.1/', 'ip-literal'],
  ['http://169.254.169.254/latest/meta-data/', 'ip-literal'],
  ['http://[::1]/', 'ip-literal'],
  ['http://[fc00::1]/', 'ip-literal'],
  ['http://[::ffff:127.0.0.1]/', 'ip-literal'],
  ['http://2130706433/', 'ip-literal'],
  ['http://0177.0.0.1/', 'ip-literal'],
  ['http://0x7f000001/', 'ip-literal'],
  ['http://0x7f.1/', 'ip-literal'],
  ['http://0/', 'ip-literal'],
  ['http://0.0.0.0/', 'ip-literal'],
  ['http://93.184.216.34/', 'ip-literal'],
  ['http://１２７.０.０.１/', 'ip-literal'],
  ['http://%31%32%37.0.0.1/', 'ip-literal'],
  ['http://127.0.0.1.nip.io/', 'host-not-allowed'],
  ['http://spb.cian.ru.127.0.0.1.nip.io/', 'host-not-allowed'],
  ['file:///etc/passwd', 'scheme'],
  ['ftp://cian.ru/', 'scheme'],
  ['data:text/html,<h1>hi</h1>', 'scheme'],
  ['javascript:alert(1)', 'scheme'],
  ['gopher://cian.ru:70/_', 'scheme'],
  ['ws://cian.ru/', 'scheme'],
  ['http://user:pass@spb.cian.ru/', 'credentials'],
  ['http://user@spb.cian.ru/', 'credentials'],
  ['http://spb.cian.ru@127.0.0.1/', 'credentials'],
  ['http://spb.cian.ru@evil.com/', 'credentials'],
  ['http://evil.com#@spb.cian.ru/', 'host-not-allowed'],
  ['http://evil.com\\@spb.cian.ru/', 'host-not-allowed'],
  ['http://example.com/', 'host-not-allowed'],
  ['http://localhost/', 'host-not-allowed'],
  ['http://evilcian.ru/', 'host-not-allowed'],
  ['http://cian.ru.evil.com/', 'host-not-allowed'],
  ['http://avito.ru.evil.com/', 'host-not-allowed'],
  ['http://evil.avito.ru/', 'host-not-allowed'],
  ['http://yandex.ru/', 'host-not-allowed'],
  ['http://notetagi.com/', 'host-not-allowed'],
  ['not a url', 'malformed'],
  ['//spb.cian.ru/sale/', 'malformed'],
  ['', 'malformed'],
  ['http://[fe80::1%25eth0]/', 'malformed'],
  ['http://999.1.1.1/', 'malformed'],
  [`https://spb.cian.ru/${'a'.repeat(2100)}`, 'too-long'],
]

const LISTING_URLS = [
  'https://cian.ru/sale/flat/1/',
  'https://spb.cian.ru/sale/flat/301963839/',
  'https://www.cian.ru/rent/flat/1/',
  'https://spb.cian.ru./sale/flat/1/',
  'https://SPB.CIAN.RU/sale/flat/1/',
  'https://www.avito.ru/moskva/kvartiry/1',
  'https://m.avito.ru/moskva/kvartiry/1',
  'https://avito.ru/moskva/kvartiry/1',
  'https://domclick.ru/card/sale__flat__1',
  'https://spb.domclick.ru/card/sale__flat__1',
  'https://realty.yandex.ru/offer/1/',
  'http://etagi.com/realty/1/',
  'http://msk.etagi.com/realty/1/',
  'https://spb.cian.ru:8443/sale/flat/1/',
]

describe('checkListingUrl', () => {
  it.each(HOSTILE_LISTING_URLS)('refuses %s (%s)', (url, reason) => {
    expect(rejection(() => checkListingUrl(url, config))).toEqual({ code: 'UrlRejected', reason })
  })

  it('refuses the whole hostile table', () => {
    const refused = HOSTILE_LISTING_URLS.filter(([url]) => rejection(() => checkListingUrl(url, config)).code === 'UrlRejected')
    console.log(`checkListingUrl refused ${refused.length}/${HOSTILE_LISTING_URLS.length} hostile URLs`)
    expect(refused).toHaveLength(HOSTILE_LISTING_URLS.length)
  })

  it.each(LISTING_URLS)('accepts %s', (url) => {
    expect(checkListingUrl(url, config)).toBeInstanceOf(URL)
  })

  it('drops the trailing dot so the host matches FETCH_REWRITE origins', () => {
    expect(checkListingUrl('https://spb.cian.ru./sale/', config).origin).toBe('https://spb.cian.ru')
  })

  it('refuses a non-string input as malformed', () => {
    expect(rejection(() => checkListingUrl(42 as unknown as string, config)).reason).toBe('malformed')
  })
})

describe('checkWebhookUrl', () => {
  it.each([
    ['http://127.0.0.1:9999/hook', 'forbidden-address'],
    ['http://2130706433:4001/hook', 'forbidden-address'],
    ['http://[::1]:4000/hook', 'forbidden-address'],
    ['http://169.254.169.254/', 'forbidden-address'],
    ['http://[::ffff:192.168.0.1]/', 'forbidden-address'],
    ['http://10.1.2.3/hook', 'forbidden-address'],
    ['http://localhost:4000/hook', 'forbidden-address'],
    ['http://api.localhost/hook', 'forbidden-address'],
    ['http://intranet/hook', 'host-not-allowed'],
    ['https://127.0.0.1:4001/hook', 'forbidden-address'],
    ['https://user:pw@hooks.example.com/', 'credentials'],
    ['file:///etc/passwd', 'scheme'],
    ['gopher://hooks.example.com/', 'scheme'],
  ])('refuses %s (%s)', (url, reason) => {
    expect(rejection(() => checkWebhookUrl(url, config))).toEqual({ code: 'UrlRejected', reason })
  })

  it.each([
    'https://hooks.example.com/housler',
    'http://93.184.216.34:8080/hook',
    'http://127.0.0.1:4000/hook',
    'https://127.0.0.1:4000/hook-over-tls',
    'http://[::1]:5000/hook',
    'http://hooks.internal:1234/any-port',
  ])('accepts %s', (url) => {
    expect(checkWebhookUrl(url, config)).toBeInstanceOf(URL)
  })
})

describe('isWebhookAllowlisted', () => {
  const allowed = (url: string, list: string[]) => isWebhookAllowlisted(new URL(url), list)

  it('matches an origin entry on scheme, host and port', () => {
    expect(allowed('http://127.0.0.1:4000/x', ['http://127.0.0.1:4000'])).toBe(true)
    expect(allowed('https://127.0.0.1:4000/x', ['http://127.0.0.1:4000'])).toBe(false)
    expect(allowed('http://127.0.0.1:4001/x', ['http://127.0.0.1:4000'])).toBe(false)
  })

  it('fills in default ports on both sides', () => {
    expect(allowed('http://127.0.0.1/x', ['http://127.0.0.1:80'])).toBe(true)
    expect(allowed('http://127.0.0.1:80/x', ['127.0.0.1:80'])).toBe(true)
    expect(allowed('https://hooks.example/x', ['hooks.example:443'])).toBe(true)
  })

  it('matches a bare host on any port and nothing that merely contains it', () => {
    expect(allowed('http://hooks.example:9/x', ['hooks.example'])).toBe(true)
    expect(allowed('http://evil-hooks.example/x', ['hooks.example'])).toBe(false)
    expect(allowed('http://hooks.example.evil.com/x', ['hooks.example'])).toBe(false)
  })

  it('ignores malformed entries', () => {
    expect(allowed('http://127.0.0.1:4000/', ['http://', '::::', ''])).toBe(false)
  })
})

describe('FETCH_REWRITE mapping', () => {
  const rewrite = new Map([['https://spb.cian.ru', 'http://127.0.0.1:9000']])
  const site = new URL('https://spb.cian.ru/sale/flat/1/?from=x')
  const target = rewriteUrl(site, rewrite)

  it('keeps path and query on the rewritten origin', () => {
    expect(target?.href).toBe('http://127.0.0.1:9000/sale/flat/1/?from=x')
  })

  it('leaves other origins alone', () => {
    expect(rewriteUrl(new URL('https://www.cian.ru/'), rewrite)).toBeUndefined()
  })

  it('maps relative and same-origin absolute Locations back onto the site', () => {
    expect(redirectSiteUrl('/sale/flat/2/', site, target)).toBe('https://spb.cian.ru/sale/flat/2/')
    expect(redirectSiteUrl('http://127.0.0.1:9000/sale/flat/3/', site, target)).toBe('https://spb.cian.ru/sale/flat/3/')
    expect(redirectSiteUrl('https://spb.cian.ru/sale/flat/4/', site, target)).toBe('https://spb.cian.ru/sale/flat/4/')
  })

  it('leaves a Location on any other origin as it stands, to be checked as user input', () => {
    expect(redirectSiteUrl('http://127.0.0.1:9001/', site, target)).toBe('http://127.0.0.1:9001/')
  })

  it('resolves Locations against the site when nothing was rewritten', () => {
    expect(redirectSiteUrl('/a', new URL('https://www.cian.ru/b'), undefined)).toBe('https://www.cian.ru/a')
  })
})
