import { BlockList, isIP } from 'node:net'
import { NotifyConfigError } from '../../errors.js'

/** Options of the SSRF guard: which otherwise refused addresses to allow (CIDR, `'10.1.0.0/16'`). */
export interface AddressGuardOptions {
  readonly allow?: readonly string[] | undefined
}

// IPv4: every address is global unicast except these ranges (IANA's special-purpose registry,
// the blocks not globally reachable), multicast and the reserved 240/4 (broadcast included).
const REFUSED_V4: readonly (readonly [string, number, string])[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved (deprecated 6to4 relays)'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved (benchmarking)'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
]
// IPv6: deny by default. Only global unicast (2000::/3) may be reached, less the special-purpose
// blocks inside it; every other address is refused, whether or not it is named here.
const GLOBAL_V6: readonly [string, number] = ['2000::', 3]
const REFUSED_GLOBAL_V6: readonly (readonly [string, number, string])[] = [
  ['2001::', 32, 'Teredo (carries an obscured IPv4 address)'],
  ['2001::', 23, 'reserved (IETF protocol assignments)'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
]
// Names for the refusal's reason only: outside 2000::/3 everything is refused anyway.
const NAMED_V6: readonly (readonly [string, number, string])[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['fc00::', 7, 'private (unique local, cloud metadata)'],
  ['64:ff9b:1::', 48, 'local-use NAT64 (reaches the local network)'],
  ['100::', 64, 'discard-only'],
  ['5f00::', 16, 'segment routing (SRv6)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
]

/**
 * Decides whether the server may connect to an IP address: only global unicast addresses may be
 * reached unless allowed, so loopback, private, link-local, metadata, reserved and any IPv6
 * address outside `2000::/3` are refused. IPv6 forms that carry an IPv4 address
 * (`::ffff:127.0.0.1`, `::ffff:0:127.0.0.1`, NAT64 `64:ff9b::7f00:1`, 6to4 `2002:7f00:1::`) are
 * judged by it; local-use NAT64, Teredo and the deprecated IPv4-compatible form are refused.
 *
 * @example
 * ```ts
 * import { AddressGuard } from '@mortar/notify'
 *
 * const guard = new AddressGuard({ allow: ['10.20.0.0/16'] })
 * guard.refusal('127.0.0.1') // 'loopback'
 * guard.refusal('10.20.1.5') // undefined: allowed
 * ```
 */
export class AddressGuard {
  readonly #allow = new BlockList()
  readonly #hasAllow: boolean

  constructor(options: AddressGuardOptions = {}) {
    const allow = options.allow ?? []
    for (const cidr of allow) {
      const [address, bits] = cidr.split('/')
      const family = address === undefined ? 0 : isIP(address)
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits)
      if (
        family === 0 ||
        !Number.isInteger(prefix) ||
        prefix < 0 ||
        prefix > (family === 6 ? 128 : 32)
      ) {
        throw new NotifyConfigError(
          `addressGuard.allow: '${cidr}' is not an IP address or CIDR range (such as '10.0.0.0/8').`,
        )
      }
      this.#allow.addSubnet(address as string, prefix, family === 6 ? 'ipv6' : 'ipv4')
    }
    this.#hasAllow = allow.length > 0
  }

  /** Why `address` is refused (`'loopback'`, `'private'`, …), or `undefined` when it may be reached. */
  refusal(address: string): string | undefined {
    const family = isIP(address)
    if (family === 0) return 'not an IP address'
    if (this.#hasAllow && this.#allow.check(address, family === 6 ? 'ipv6' : 'ipv4'))
      return undefined
    if (family === 4) return refusedV4(address)
    const embedded = embeddedV4(address)
    if (embedded !== undefined) {
      if (this.#hasAllow && this.#allow.check(embedded, 'ipv4')) return undefined
      return refusedV4(embedded)
    }
    if (!GLOBAL_V6_LIST.check(address, 'ipv6')) {
      return findRange(NAMED_V6_LIST, address, 'ipv6') ?? 'not a global unicast address'
    }
    return findRange(REFUSED_GLOBAL_V6_LIST, address, 'ipv6')
  }
}

type Ranges = readonly (readonly [BlockList, string])[]

function rangeLists(
  ranges: readonly (readonly [string, number, string])[],
  family: 'ipv4' | 'ipv6',
): Ranges {
  return ranges.map(([address, prefix, reason]) => {
    const list = new BlockList()
    list.addSubnet(address, prefix, family)
    return [list, reason] as const
  })
}

function findRange(ranges: Ranges, address: string, family: 'ipv4' | 'ipv6'): string | undefined {
  return ranges.find(([list]) => list.check(address, family))?.[1]
}

const REFUSED_V4_LIST = rangeLists(REFUSED_V4, 'ipv4')
const REFUSED_GLOBAL_V6_LIST = rangeLists(REFUSED_GLOBAL_V6, 'ipv6')
const NAMED_V6_LIST = rangeLists(NAMED_V6, 'ipv6')
const GLOBAL_V6_LIST = new BlockList()
GLOBAL_V6_LIST.addSubnet(GLOBAL_V6[0], GLOBAL_V6[1], 'ipv6')

function refusedV4(address: string): string | undefined {
  if (address === '255.255.255.255') return 'broadcast'
  return findRange(REFUSED_V4_LIST, address, 'ipv4')
}

/** The IPv4 address inside an IPv4-mapped, IPv4-translated, NAT64 or 6to4 IPv6 address. */
function embeddedV4(address: string): string | undefined {
  const words = expandV6(address)
  if (words === undefined) return undefined
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  const zero = (from: number, to: number) => words.slice(from, to).every((word) => word === 0)
  // ::ffff:a.b.c.d (mapped)
  if (zero(0, 5) && words[5] === 0xffff) return v4(words[6] ?? 0, words[7] ?? 0)
  // ::ffff:0:a.b.c.d (IPv4-translated, SIIT)
  if (zero(0, 4) && words[4] === 0xffff && words[5] === 0) return v4(words[6] ?? 0, words[7] ?? 0)
  // 64:ff9b::/96 (NAT64)
  if (words[0] === 0x64 && words[1] === 0xff9b && zero(2, 6))
    return v4(words[6] ?? 0, words[7] ?? 0)
  // 2002::/16 (6to4): the IPv4 address is in words 1 and 2
  if (words[0] === 0x2002) return v4(words[1] ?? 0, words[2] ?? 0)
  return undefined
}

/** The eight 16-bit words of an IPv6 address (a trailing dotted IPv4 part included). */
function expandV6(address: string): number[] | undefined {
  let text = address.toLowerCase().split('%')[0] ?? ''
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted?.[1] !== undefined) {
    const parts = dotted[1].split('.').map(Number)
    const high = (((parts[0] ?? 0) << 8) | (parts[1] ?? 0)).toString(16)
    const low = (((parts[2] ?? 0) << 8) | (parts[3] ?? 0)).toString(16)
    text = `${text.slice(0, -dotted[1].length)}${high}:${low}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':')
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] ?? '').split(':')) : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? head.length !== 8 : missing < 0) return undefined
  const words = [
    ...head,
    ...Array<string>(halves.length === 2 ? missing : 0).fill('0'),
    ...tail,
  ].map((word) => Number.parseInt(word, 16))
  return words.length === 8 &&
    words.every((word) => Number.isInteger(word) && word >= 0 && word <= 0xffff)
    ? words
    : undefined
}
