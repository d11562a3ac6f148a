export { defineDigest } from './define-digest.js'
export type { Digest, DigestDefinition, DigestRenderers, DigestWindow } from './define-digest.js'
export {
  addDigestItem,
  closeDigestBatch,
  createDigestTables,
  openDigestBatches,
} from './digest-store.js'
export type { ClosedBatch, DigestPlacement } from './digest-store.js'
