import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NotifyConfigError } from '../../errors.js'
import { AddressGuard } from './address-guard.js'

const guard = new AddressGuard()
const octet = fc.integer({ min: 0, max: 255 })
const v4 = (a: number, b: number, c: number, d: number) => `${a}.${b}.${c}.${d}`
const hex = (high: number, low: number) => `${((high << 8) | low).toString(16)}`

describe('AddressGuard', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'private (unique local, cloud metadata)'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata)'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::ffff:0:a9fe:a9fe', 'link-local (cloud metadata)'],
    ['64:ff9b:1::a9fe:a9fe', 'local-use NAT64 (reaches the local network)'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo (carries an obscured IPv4 address)'],
    ['100::1', 'discard-only'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['192.88.99.1', 'reserved (deprecated 6to4 relays)'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'reserved (IETF protocol assignments)'],
    ['5f00::1', 'segment routing (SRv6)'],
    ['4000::1', 'not a global unicast address'],
    ['::1:0:0:1', 'not a global unicast address'],
    ['::ffff:0:0:7f00:1', 'not a global unicast address'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(guard.refusal(address)).toBe(reason)
  })

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'lets the public address %s through',
    (address) => {
      expect(guard.refusal(address)).toBeUndefined()
    },
  )

  it('lets no IPv6 address through outside global unicast (2000::/3) but IPv4 it carries (deny by default)', () => {
    const word = fc.integer({ min: 0, max: 0xffff })
    const words = fc.oneof(
      fc.tuple(word, word, word, word, word, word, word, word),
      // the prefixes of the forms that carry an IPv4 address, and their near neighbours
      fc
        .tuple(
          fc.constantFrom(
            [0, 0, 0, 0, 0, 0xffff],
            [0, 0, 0, 0, 0xffff, 0],
            [0x64, 0xff9b, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0xffff, 0, 0],
            [0x64, 0xff9b, 1, 0, 0, 0],
          ),
          word,
          word,
        )
        .map(([prefix, high, low]) => [...prefix, high, low]),
    )
    fc.assert(
      fc.property(words, (parts) => {
        const address = parts.map((part) => part.toString(16)).join(':')
        if (guard.refusal(address) !== undefined) return
        const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = parts
        const carriesV4 =
          (a === 0 &&
            b === 0 &&
            c === 0 &&
            d === 0 &&
            ((e === 0 && f === 0xffff) || (e === 0xffff && f === 0))) ||
          (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0)
        expect(carriesV4 || (a >= 0x2000 && a <= 0x3fff)).toBe(true)
      }),
    )
  })

  it('refuses what is not an IP address', () => {
    expect(guard.refusal('localhost')).toBe('not an IP address')
  })

  it('allows listed ranges, in every form of the address', () => {
    const allowing = new AddressGuard({ allow: ['127.0.0.1/32', '10.20.0.0/16'] })
    expect(allowing.refusal('127.0.0.1')).toBeUndefined()
    expect(allowing.refusal('::ffff:127.0.0.1')).toBeUndefined()
    expect(allowing.refusal('127.0.0.2')).toBe('loopback')
    expect(allowing.refusal('10.20.5.5')).toBeUndefined()
    expect(allowing.refusal('10.21.0.1')).toBe('private')
  })

  it('refuses a malformed allow entry at creation', () => {
    expect(() => new AddressGuard({ allow: ['10.0.0.0/33'] })).toThrow(/CIDR/)
    expect(() => new AddressGuard({ allow: ['example.com'] })).toThrow(/CIDR/)
    // A config error, as every other option of the channels (it was a plain TypeError).
    expect(() => new AddressGuard({ allow: ['10.0.0.0/8x'] })).toThrow(NotifyConfigError)
  })

  it('judges an IPv4-mapped IPv6 address exactly as the IPv4 address it carries', () => {
    fc.assert(
      fc.property(octet, octet, octet, octet, (a, b, c, d) => {
        const plain = guard.refusal(v4(a, b, c, d))
        expect(guard.refusal(`::ffff:${v4(a, b, c, d)}`)).toBe(plain)
        expect(guard.refusal(`::ffff:${hex(a, b)}:${hex(c, d)}`)).toBe(plain)
        expect(guard.refusal(`64:ff9b::${hex(a, b)}:${hex(c, d)}`)).toBe(plain)
        expect(guard.refusal(`::ffff:0:${v4(a, b, c, d)}`)).toBe(plain)
      }),
    )
  })

  it('refuses every address of the private and loopback ranges', () => {
    fc.assert(
      fc.property(octet, octet, octet, (b, c, d) => {
        expect(guard.refusal(v4(10, b, c, d))).toBe('private')
        expect(guard.refusal(v4(127, b, c, d))).toBe('loopback')
        expect(guard.refusal(v4(192, 168, c, d))).toBe('private')
        expect(guard.refusal(v4(169, 254, c, d))).toBe('link-local (cloud metadata)')
        expect(guard.refusal(v4(172, 16 + (b % 16), c, d))).toBe('private')
      }),
    )
  })
})
