// Internal SQL helpers of notify's stores; not part of the public API.
export { idColumn, longText } from './column-types.js'
export { idIn, rowsById } from './id-in.js'
export { insertIgnoringDuplicates, insertUnlessPresent } from './insert-ignoring-duplicates.js'
export { type SqlEngine, sqlEngine } from './sql-engine.js'
export { deleteInBatches } from './delete-in-batches.js'
export { columnIndex } from './column-index.js'
export { reclaimSpace } from './reclaim-space.js'
