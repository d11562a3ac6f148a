import { ChurnVacuum, type Database } from '@mortar/core'

/**
 * After a prune deleted `deleted` rows of `table`: PostgreSQL here may run no autovacuum, so the
 * space is reclaimed now, in the background (nothing elsewhere).
 */
export function reclaimSpace(database: Database, table: string, deleted: number): void {
  if (deleted > 0) new ChurnVacuum({ database, table, every: 1 }).count(deleted)
}
