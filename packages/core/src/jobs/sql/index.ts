export { SqlQueue } from './sql-queue.js'
export type { SqlQueueOptions } from './sql-queue.js'
export { sqlQueueMigrations } from './sql-queue-migrations.js'
