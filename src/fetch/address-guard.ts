import { promises as dns } from 'node:dns'
import { isIPv4, isIPv6, type LookupFunction } from 'node:net'
import { AppError, coerceError } from '../errors.ts'

export type ResolvedAddress = { address: string; family: 4 | 6 }

/** Every address a hostname resolves to; tests inject their own answers, production uses the system resolver. */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>

export const resolveWithSystemDns: ResolveHost = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true })
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))
}

type Cidr = readonly [network: string, prefixBits: number, why: string]

// Anything that is not plain public unicast: we fetch user-chosen URLs, so an address we cannot vouch for is refused.
const IPV4_FORBIDDEN: readonly Cidr[] = [
  ['0.0.0.0', 8, 'this network (0.0.0.0 reaches the local host on Linux)'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local, cloud metadata 169.254.169.254'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved, 255.255.255.255 broadcast'],
]

const IPV6_FORBIDDEN: readonly Cidr[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments, Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
]

// These carry an IPv4 address that the packet finally reaches, so that address decides.
const IPV6_EMBEDDING_IPV4: ReadonlyArray<readonly [network: string, prefixBits: number, shiftBits: bigint]> = [
  ['::ffff:0:0', 96, 0n], // IPv4-mapped
  ['64:ff9b::', 96, 0n], // NAT64 well-known prefix
  ['2002::', 16, 80n], // 6to4
]

const IPV6_GLOBAL_UNICAST: Cidr = ['2000::', 3, 'the only IPv6 space allocated for public unicast']

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0)
}

function ipv4InCidr(ip: number, [network, bits]: Cidr): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  return ((ip & mask) >>> 0) === ((ipv4ToNumber(network) & mask) >>> 0)
}

function ipv6ToBigInt(ip: string): bigint {
  const [head = '', tail] = ip.split('::')
  const toGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)]
          const v4 = ipv4ToNumber(group)
          return [Math.floor(v4 / 65536), v4 % 65536]
        })
  const left = toGroups(head)
  const right = tail === undefined ? [] : toGroups(tail)
  const groups = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n)
}

function ipv6InCidr(ip: bigint, network: string, bits: number): boolean {
  const shift = BigInt(128 - bits)
  return ip >> shift === ipv6ToBigInt(network) >> shift
}

function ipv4Reason(ip: string): string | undefined {
  const value = ipv4ToNumber(ip)
  return IPV4_FORBIDDEN.find((cidr) => ipv4InCidr(value, cidr))?.[2]
}

function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.')
}

function ipv6Reason(ip: string): string | undefined {
  const value = ipv6ToBigInt(ip)
  for (const [network, bits, shift] of IPV6_EMBEDDING_IPV4) {
    if (!ipv6InCidr(value, network, bits)) continue
    const embedded = numberToIpv4(Number((value >> shift) & 0xffffffffn))
    const reason = ipv4Reason(embedded)
    if (reason) return `${reason} (embedded ${embedded})`
    if (bits === 96) return undefined
  }
  const listed = IPV6_FORBIDDEN.find(([network, bits]) => ipv6InCidr(value, network, bits))
  if (listed) return listed[2]
  const [network, bits] = IPV6_GLOBAL_UNICAST
  return ipv6InCidr(value, network, bits) ? undefined : 'not global unicast'
}

/** Why an address must not be connected to, or undefined when it is public unicast. Unparseable → refused. */
export function forbiddenAddressReason(ip: string): string | undefined {
  const bare = ip.replace(/^\[(.*)\]$/, '$1')
  if (isIPv4(bare)) return ipv4Reason(bare)
  // A zone index (fe80::1%eth0) only exists on link-local addresses.
  if (bare.includes('%')) return 'scoped (link-local)'
  if (isIPv6(bare)) return ipv6Reason(bare.toLowerCase())
  return 'not an IP address'
}

/** True for loopback, private, CGNAT, link-local/metadata, multicast, reserved and IPv6 forms that embed such IPv4. */
export function isForbiddenAddress(ip: string): boolean {
  return forbiddenAddressReason(ip) !== undefined
}

function familyOf(options: { family?: number | string }): 4 | 6 | undefined {
  if (options.family === 4 || options.family === 'IPv4') return 4
  if (options.family === 6 || options.family === 'IPv6') return 6
  return undefined
}

/** Resolves a host and refuses it whole when any answer is forbidden; the vetted answers are what may be connected to. */
export function createGuardedResolve(resolveHost: ResolveHost): (hostname: string) => Promise<readonly ResolvedAddress[]> {
  return async (hostname) => {
    const answers = await resolveHost(hostname)
    const forbidden = answers.find(({ address }) => isForbiddenAddress(address))
    if (forbidden) {
      const reason = forbiddenAddressReason(forbidden.address)
      throw new AppError('UrlRejected', `${hostname} resolves to a forbidden address (${reason})`, {
        details: { reason: 'forbidden-address', host: hostname, address: forbidden.address },
      })
    }
    return answers
  }
}

/**
 * A `lookup` for node:net that resolves, refuses the whole host if any answer is forbidden, and hands the socket
 * exactly the addresses it vetted: the check and the connect use one answer, so DNS rebinding has no gap to use.
 */
export function createGuardedLookup(resolveHost: ResolveHost): LookupFunction {
  const guardedResolve = createGuardedResolve(resolveHost)
  return (hostname, options, callback) => {
    guardedResolve(hostname).then(
      (answers) => {
        const family = familyOf(options)
        const usable = family ? answers.filter((answer) => answer.family === family) : answers
        const first = usable[0]
        if (!first) {
          callback(Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' }), '')
          return
        }
        if (options.all) callback(null, usable.map(({ address, family }) => ({ address, family })))
        else callback(null, first.address, first.family)
      },
      (error) => callback(coerceError(error), ''),
    )
  }
}
