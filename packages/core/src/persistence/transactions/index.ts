export { publishAfterCommit } from './publish-after-commit.js'
export { afterCommit, transaction, useDefaultDatabase } from './transaction.js'
export type { TransactionCallOptions } from './transaction.js'
export { Transactional } from './transactional.js'
