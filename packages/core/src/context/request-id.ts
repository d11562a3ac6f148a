import { randomFillSync } from 'node:crypto'

// Ids are made 16 at a time: random bytes from one 4 KB draw are written as UUID text into a
// buffer, read back as one string, and each id is a slice of it. crypto.randomUUID() builds each
// string by concatenation, which Node flattens again when it checks the x-request-id header;
// slices of one flat string skip that and a native call per id, the costs an HTTP adapter adds
// to every request. A kept id keeps its batch (576 bytes) alive, not more.
const IDS_PER_BATCH = 16
const ID_LENGTH = 36
const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let poolOffset = POOL_SIZE
const batchText = Buffer.allocUnsafe(IDS_PER_BATCH * ID_LENGTH)
const HEX = Buffer.from('0123456789abcdef', 'latin1')
const DASH = 0x2d
let batch = ''
let nextInBatch = IDS_PER_BATCH

function fillBatch(): void {
  let at = 0
  for (let id = 0; id < IDS_PER_BATCH; id += 1) {
    if (poolOffset === POOL_SIZE) {
      randomFillSync(pool)
      poolOffset = 0
    }
    for (let index = 0; index < 16; index += 1) {
      let byte = pool[poolOffset + index] as number
      // The version (4) and variant (RFC 9562) bits.
      if (index === 6) byte = (byte & 0x0f) | 0x40
      else if (index === 8) byte = (byte & 0x3f) | 0x80
      batchText[at++] = HEX[byte >> 4] as number
      batchText[at++] = HEX[byte & 0x0f] as number
      if (index === 3 || index === 5 || index === 7 || index === 9) batchText[at++] = DASH
    }
    poolOffset += 16
  }
  batch = batchText.toString('latin1')
  nextInBatch = 0
}

/** A random (version 4) UUID, such as `'0f8fad5b-d9cb-469f-a165-70867728950e'`. */
export function newRequestId(): string {
  if (nextInBatch === IDS_PER_BATCH) fillBatch()
  const start = nextInBatch * ID_LENGTH
  nextInBatch += 1
  return batch.slice(start, start + ID_LENGTH)
}
