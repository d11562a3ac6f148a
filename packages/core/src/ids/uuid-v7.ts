import { randomFillSync } from 'node:crypto'

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')
const DASH = 0x2d
// Random bytes are drawn from node:crypto in blocks: one call per 819 ids.
const POOL = Buffer.alloc(8 * 1_024)
let offset = POOL.length
// The id is written as ASCII here and read out as one flat string: an id pieced together from
// slices and template parts is a rope that every later reader (the COPY encoder, a driver's
// binding) flattens again, which cost more than making it.
const ID = Buffer.alloc(36)
let prefixMs = -1

/**
 * A UUIDv7 (RFC 9562) whose 48-bit timestamp is `ms`: ids sort by time, and 74 random bits make
 * a collision negligible. The key for rows written all the time (events, deliveries): a new key
 * lands at the right edge of its index, where a random UUID lands on any page of it, so after
 * each checkpoint PostgreSQL writes a whole copy of page after page to the WAL, and the index's
 * hot pages no longer fit the cache once it is large. It tells when it was made: not for an id
 * that must keep that secret.
 *
 * @example
 * ```ts
 * import { uuidV7 } from '@mortar/core'
 *
 * const id = uuidV7(Date.now()) // '019aef3c-…', later ids sort after it
 * ```
 */
export function uuidV7(ms: number): string {
  if (ms !== prefixMs) {
    // Ids of one millisecond share their first 15 characters (time, version).
    const high = Math.floor(ms / 0x1_0000_0000)
    const low = ms >>> 0
    hexByte(0, (high >>> 8) & 0xff)
    hexByte(2, high & 0xff)
    hexByte(4, low >>> 24)
    hexByte(6, (low >>> 16) & 0xff)
    ID[8] = DASH
    hexByte(9, (low >>> 8) & 0xff)
    hexByte(11, low & 0xff)
    ID[13] = DASH
    ID[14] = 0x37
    ID[18] = DASH
    ID[23] = DASH
    prefixMs = ms
  }
  if (offset + 10 > POOL.length) {
    randomFillSync(POOL)
    offset = 0
  }
  const r = offset
  offset += 10
  // 74 random bits: 12 after the version, 2 after the variant's `10`, then 12 and 48.
  const first = POOL[r] as number
  const second = POOL[r + 1] as number
  ID[15] = HEX_DIGITS[first >>> 4] as number
  ID[16] = HEX_DIGITS[first & 0xf] as number
  ID[17] = HEX_DIGITS[second >>> 4] as number
  ID[19] = HEX_DIGITS[8 | (second & 0x3)] as number
  hexByte(20, POOL[r + 2] as number)
  ID[22] = HEX_DIGITS[(POOL[r + 3] as number) >>> 4] as number
  for (let i = 0; i < 6; i++) hexByte(24 + 2 * i, POOL[r + 4 + i] as number)
  return ID.toString('latin1', 0, 36)
}

function hexByte(at: number, byte: number): void {
  ID[at] = HEX_DIGITS[byte >>> 4] as number
  ID[at + 1] = HEX_DIGITS[byte & 0xf] as number
}

/**
 * The millisecond timestamp of a UUIDv7 made by {@link uuidV7}.
 *
 * @example
 * ```ts
 * import { uuidV7, uuidV7Time } from '@mortar/core'
 *
 * uuidV7Time(uuidV7(1_700_000_000_000)) // 1_700_000_000_000
 * ```
 */
export function uuidV7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}
