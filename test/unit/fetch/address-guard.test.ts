import type { LookupAddress } from 'node:dns'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { createGuardedLookup, isForbiddenAddress, type ResolvedAddress } from '../../../src/fetch/address-guard.ts'

const FORBIDDEN = [
  '0.0.0.0',
  '0.1.2.3',
  '10.0.0.1',
  '10.255.255.255',
  '100.64.0.1',
  '100.127.255.254',
  '127.0.0.1',
  '127.255.255.254',
  '169.254.169.254',
  '169.254.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.0.0.192',
  '192.0.2.10',
  '192.168.0.1',
  '192.168.255.255',
  '198.18.0.1',
  '198.51.100.7',
  '203.0.113.9',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  '::',
  '::1',
  '[::1]',
  '::127.0.0.1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'febf::1',
  'fec0::1',
  'ff02::1',
  'ff0e::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::FFFF:10.0.0.1',
  '::ffff:169.254.169.254',
  '::ffff:0.0.0.0',
  '64:ff9b::127.0.0.1',
  '64:ff9b::a9fe:a9fe',
  '64:ff9b::192.168.1.1',
  '64:ff9b:1::1',
  '2002:7f00:1::',
  '2002:a00:1::1',
  '2002:a9fe:a9fe::1',
  '2001:db8::1',
  '2001::1',
  '100::1',
  '::ffff:0:7f00:1',
  '1::',
  'not-an-ip',
  '',
  '0177.0.0.1',
  '2130706433',
  '127.1',
]

const ALLOWED = [
  '93.184.216.34',
  '8.8.8.8',
  '1.1.1.1',
  '100.63.255.255',
  '100.128.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '169.253.255.255',
  '192.167.255.255',
  '223.255.255.255',
  '2a00:1450:4010:c0e::8a',
  '2606:4700:4700::1111',
  '::ffff:93.184.216.34',
  '64:ff9b::8.8.8.8',
  '2002:5db8:d822::1',
]

describe('isForbiddenAddress', () => {
  it.each(FORBIDDEN)('refuses %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true)
  })

  it.each(ALLOWED)('allows public %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false)
  })

  it('covers the whole table', () => {
    console.log(`address table: ${FORBIDDEN.length} forbidden, ${ALLOWED.length} allowed`)
    expect(FORBIDDEN.filter(isForbiddenAddress)).toHaveLength(FORBIDDEN.length)
    expect(ALLOWED.filter(isForbiddenAddress)).toHaveLength(0)
  })
})

type LookupResult = { error: Error | null; address: string | LookupAddress[]; family?: number }

function lookupWith(answers: ResolvedAddress[], options: { all?: boolean; family?: number }): Promise<LookupResult> {
  const lookup = createGuardedLookup(async () => answers)
  return new Promise((resolve) => {
    lookup('evil.cian.ru', options, (error, address, family) => resolve({ error, address, family }))
  })
}

describe('createGuardedLookup', () => {
  it('hands back the vetted address for a single lookup', async () => {
    const result = await lookupWith([{ address: '93.184.216.34', family: 4 }], {})
    expect(result).toEqual({ error: null, address: '93.184.216.34', family: 4 })
  })

  it('hands back every vetted address when asked for all (happy eyeballs)', async () => {
    const answers: ResolvedAddress[] = [
      { address: '2606:4700::1', family: 6 },
      { address: '93.184.216.34', family: 4 },
    ]
    const result = await lookupWith(answers, { all: true })
    expect(result.error).toBeNull()
    expect(result.address).toEqual(answers)
  })

  it('filters by the requested family', async () => {
    const answers: ResolvedAddress[] = [
      { address: '2606:4700::1', family: 6 },
      { address: '93.184.216.34', family: 4 },
    ]
    expect((await lookupWith(answers, { family: 4 })).address).toBe('93.184.216.34')
  })

  it('refuses the host when any answer is forbidden, even beside a public one', async () => {
    const result = await lookupWith(
      [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      { all: true },
    )
    expect(result.error).toBeInstanceOf(AppError)
    expect((result.error as AppError).code).toBe('UrlRejected')
    expect((result.error as AppError).details).toMatchObject({ reason: 'forbidden-address', address: '127.0.0.1' })
  })

  it('refuses a forbidden IPv6 answer of another family than the one asked for', async () => {
    const result = await lookupWith(
      [
        { address: '93.184.216.34', family: 4 },
        { address: '::ffff:10.0.0.1', family: 6 },
      ],
      { family: 4 },
    )
    expect((result.error as AppError).code).toBe('UrlRejected')
  })

  it('passes resolver failures through', async () => {
    const lookup = createGuardedLookup(async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })
    })
    const error = await new Promise<Error | null>((resolve) => lookup('x.cian.ru', {}, (err) => resolve(err)))
    expect(error?.message).toMatch(/ENOTFOUND/)
  })

  it('fails with ENOTFOUND when no answer has the requested family', async () => {
    const result = await lookupWith([{ address: '2606:4700::1', family: 6 }], { family: 4 })
    expect((result.error as Error & { code?: string }).code).toBe('ENOTFOUND')
  })
})
