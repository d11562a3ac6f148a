export { defineDigest } from './define-digest.js'
export type { Digest, DigestDefinition, DigestRenderers, DigestWindow } from './define-digest.js'
export {
  addDigestItem,
  closeDigestBatch,
  createDigestTables,
  unsentDigestBatches,
  unsentDigestCounts,
} from './digest-store.js'
export type {
  ClosedBatch,
  DigestBatchCount,
  DigestBatchRecord,
  DigestPlacement,
} from './digest-store.js'
