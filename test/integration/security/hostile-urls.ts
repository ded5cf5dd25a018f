import type { ResolvedAddress, ResolveHost } from '../../../src/fetch/index.ts'

/**
 * The SSRF suite's one table: every way a user-given URL can point the service at itself, its network
 * or the cloud metadata endpoint. `port` is the canary's, so a URL that slipped through on a loopback
 * form would hit the canary instead of failing quietly.
 */

export type Category =
  | 'loopback'
  | 'private'
  | 'link-local/metadata'
  | 'ipv6-mapped'
  | 'decimal/octal/hex'
  | 'reserved'
  | 'name-trick'
  | 'dns→private'
  | 'dns-rebinding'

/** A hostile URL a user can type: refused by the URL rules alone, before any DNS or connection. */
export type LiteralHostile = { category: Category; url: (port: number) => string }

/** A host name that looks harmless but resolves (through the injected resolver) to somewhere forbidden. */
export type DnsHostile = { category: Category; host: string; answers: (call: number) => readonly ResolvedAddress[] }

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 })
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 })

export const LITERAL_HOSTILE: readonly LiteralHostile[] = [
  { category: 'loopback', url: (p) => `http://127.0.0.1:${p}/` },
  { category: 'loopback', url: (p) => `http://127.0.0.2:${p}/` },
  { category: 'loopback', url: (p) => `http://127.1:${p}/` },
  { category: 'loopback', url: (p) => `http://127.0.0.1.:${p}/` },
  { category: 'loopback', url: (p) => `http://[::1]:${p}/` },
  { category: 'loopback', url: (p) => `http://[0:0:0:0:0:0:0:1]:${p}/` },
  { category: 'loopback', url: (p) => `http://0.0.0.0:${p}/` },
  { category: 'loopback', url: (p) => `http://0:${p}/` },
  { category: 'loopback', url: (p) => `http://[::]:${p}/` },
  { category: 'loopback', url: (p) => `https://127.0.0.1:${p}/` },
  { category: 'private', url: (p) => `http://10.0.0.1:${p}/` },
  { category: 'private', url: (p) => `http://172.16.0.1:${p}/` },
  { category: 'private', url: (p) => `http://172.31.255.254:${p}/` },
  { category: 'private', url: (p) => `http://192.168.1.1:${p}/` },
  { category: 'private', url: (p) => `http://100.64.0.1:${p}/` },
  { category: 'private', url: () => 'http://100.100.100.200/latest/meta-data/' },
  { category: 'private', url: (p) => `http://[fc00::1]:${p}/` },
  { category: 'private', url: () => 'http://[fd00:ec2::254]/latest/meta-data/' },
  { category: 'link-local/metadata', url: () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
  { category: 'link-local/metadata', url: () => 'http://169.254.170.2/v2/credentials' },
  { category: 'link-local/metadata', url: (p) => `http://[fe80::1]:${p}/` },
  { category: 'link-local/metadata', url: (p) => `http://[fe80::1%25lo]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[::ffff:127.0.0.1]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[::ffff:7f00:1]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/` },
  { category: 'ipv6-mapped', url: () => 'http://[::ffff:169.254.169.254]/' },
  { category: 'ipv6-mapped', url: (p) => `http://[::ffff:10.0.0.1]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[::127.0.0.1]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[64:ff9b::7f00:1]:${p}/` },
  { category: 'ipv6-mapped', url: (p) => `http://[2002:7f00:1::]:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://2130706433:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://0177.0.0.1:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://017700000001:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://0x7f000001:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://0x7f.1:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://127.000.000.001:${p}/` },
  { category: 'decimal/octal/hex', url: () => 'http://2852039166/latest/meta-data/' },
  { category: 'decimal/octal/hex', url: () => 'http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/' },
  { category: 'decimal/octal/hex', url: () => 'http://0251.0376.0251.0376/latest/meta-data/' },
  { category: 'decimal/octal/hex', url: (p) => `http://%31%32%37.0.0.1:${p}/` },
  { category: 'decimal/octal/hex', url: (p) => `http://１２７.０.０.１:${p}/` },
  { category: 'reserved', url: (p) => `http://224.0.0.1:${p}/` },
  { category: 'reserved', url: (p) => `http://255.255.255.255:${p}/` },
  { category: 'reserved', url: (p) => `http://198.18.0.1:${p}/` },
  { category: 'name-trick', url: (p) => `http://localhost:${p}/` },
  { category: 'name-trick', url: (p) => `http://LOCALHOST.:${p}/` },
  { category: 'name-trick', url: (p) => `http://api.localhost:${p}/` },
  { category: 'name-trick', url: (p) => `http://spb.cian.ru@127.0.0.1:${p}/` },
  { category: 'name-trick', url: (p) => `http://user:pass@[::1]:${p}/` },
]

/** Names under cian.ru, so they pass the listing-site rule and the webhook rule alike: only DNS tells. */
export const DNS_HOSTILE: readonly DnsHostile[] = [
  { category: 'dns→private', host: 'loopback.ssrf.cian.ru', answers: () => [v4('127.0.0.1')] },
  { category: 'dns→private', host: 'loopback2.ssrf.cian.ru', answers: () => [v4('127.45.6.7')] },
  { category: 'dns→private', host: 'zero.ssrf.cian.ru', answers: () => [v4('0.0.0.0')] },
  { category: 'dns→private', host: 'ten.ssrf.cian.ru', answers: () => [v4('10.1.2.3')] },
  { category: 'dns→private', host: 'rfc1918.ssrf.cian.ru', answers: () => [v4('192.168.0.10')] },
  { category: 'dns→private', host: 'cgnat.ssrf.cian.ru', answers: () => [v4('100.100.100.200')] },
  { category: 'dns→private', host: 'metadata.ssrf.cian.ru', answers: () => [v4('169.254.169.254')] },
  { category: 'dns→private', host: 'ecs.ssrf.cian.ru', answers: () => [v4('169.254.170.2')] },
  { category: 'dns→private', host: 'v6-loopback.ssrf.cian.ru', answers: () => [v6('::1')] },
  { category: 'dns→private', host: 'v6-mapped.ssrf.cian.ru', answers: () => [v6('::ffff:127.0.0.1')] },
  { category: 'dns→private', host: 'v6-mapped-metadata.ssrf.cian.ru', answers: () => [v6('::ffff:169.254.169.254')] },
  { category: 'dns→private', host: 'nat64.ssrf.cian.ru', answers: () => [v6('64:ff9b::a9fe:a9fe')] },
  { category: 'dns→private', host: '6to4.ssrf.cian.ru', answers: () => [v6('2002:c0a8:101::1')] },
  { category: 'dns→private', host: 'ula.ssrf.cian.ru', answers: () => [v6('fd00:ec2::254')] },
  { category: 'dns→private', host: 'v6-link-local.ssrf.cian.ru', answers: () => [v6('fe80::1')] },
  { category: 'dns→private', host: 'v6-unspecified.ssrf.cian.ru', answers: () => [v6('::')] },
  // One bad answer among good ones refuses the host: the socket could pick any of them.
  { category: 'dns→private', host: 'mixed.ssrf.cian.ru', answers: () => [v4('93.184.216.34'), v4('127.0.0.1')] },
  { category: 'dns→private', host: 'mixed6.ssrf.cian.ru', answers: () => [v6('2606:2800:220:1::'), v6('::1')] },
  // Public on the first lookup, loopback on every later one: a resolve-to-check, resolve-again-to-connect
  // fetcher would connect to the canary. 3fff::/20 is public unicast to the guard but never routed (RFC 9637),
  // so the first attempt cannot reach anything and fails fast, and the retry looks the name up again.
  {
    category: 'dns-rebinding',
    host: 'rebind.ssrf.cian.ru',
    answers: (call) => (call === 1 ? [v6('3fff::1')] : [v4('127.0.0.1')]),
  },
  {
    category: 'dns-rebinding',
    host: 'rebind6.ssrf.cian.ru',
    answers: (call) => (call === 1 ? [v6('3fff::2')] : [v6('::ffff:127.0.0.1')]),
  },
]

/** A resolver over DNS_HOSTILE: per-host call counts (for rebinding), every question logged, unknown names fail. */
export function createHostileResolver(): ResolveHost & { calls: string[] } {
  const calls: string[] = []
  const byHost = new Map(DNS_HOSTILE.map((entry) => [entry.host, entry]))
  const resolve = async (hostname: string) => {
    calls.push(hostname)
    const entry = byHost.get(hostname)
    if (!entry) throw Object.assign(new Error(`test resolver: no answer for ${hostname}`), { code: 'ENOTFOUND' })
    return entry.answers(calls.filter((name) => name === hostname).length)
  }
  return Object.assign(resolve, { calls })
}
