/** How many rows one statement of a prune deletes at most. */
const PRUNE_BATCH = 1_000

/**
 * Runs `batch` (read at most `limit` rows to delete, delete them, answer how many it read and
 * how many went) until a batch reads fewer than {@link PRUNE_BATCH}; returns how many went. No
 * statement locks or scans more than a batch: one big delete held its locks for the whole table
 * and, on PostgreSQL without autovacuum, left all its dead rows at once.
 */
export async function deleteInBatches(
  batch: (limit: number) => Promise<{ read: number; deleted: number }>,
): Promise<number> {
  let deleted = 0
  for (;;) {
    const step = await batch(PRUNE_BATCH)
    deleted += step.deleted
    if (step.read < PRUNE_BATCH) return deleted
  }
}
