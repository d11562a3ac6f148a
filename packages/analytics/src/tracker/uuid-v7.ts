import { randomFillSync } from 'node:crypto'

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))
// Random bytes are drawn from node:crypto in blocks: one call per 1,024 ids, not one per id.
const POOL = new Uint8Array(10 * 1_024)
let offset = POOL.length

/**
 * A UUIDv7 (RFC 9562) whose 48-bit timestamp is `ms`: ids sort by time, so the event table's
 * key is time-ordered, and 74 random bits make a collision negligible.
 */
export function uuidV7(ms: number): string {
  if (offset === POOL.length) {
    randomFillSync(POOL)
    offset = 0
  }
  const r = offset
  offset += 10
  const high = Math.floor(ms / 0x1_0000_0000)
  const low = ms >>> 0
  return (
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[low >>> 24]! +
    HEX[(low >>> 16) & 0xff]! +
    '-' +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    '-' +
    HEX[0x70 | (POOL[r]! & 0x0f)]! +
    HEX[POOL[r + 1]!]! +
    '-' +
    HEX[0x80 | (POOL[r + 2]! & 0x3f)]! +
    HEX[POOL[r + 3]!]! +
    '-' +
    HEX[POOL[r + 4]!]! +
    HEX[POOL[r + 5]!]! +
    HEX[POOL[r + 6]!]! +
    HEX[POOL[r + 7]!]! +
    HEX[POOL[r + 8]!]! +
    HEX[POOL[r + 9]!]!
  )
}

/** The millisecond timestamp of a UUIDv7. */
export function uuidV7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}
