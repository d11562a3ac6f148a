// What the bare node-postgres sides of the notify benches (notify-raw-request.mjs,
// notify-raw-ledger.mjs) write: the delivery row's columns and multi-row placeholders.

// The columns notify() sets on a new delivery (packages/notify/src/ledger/delivery-insert.ts).
export const DELIVERY_COLUMNS =
  'id, notification_id, type, category, recipient_id, channel, address, message, status, last_error, run_at, created_at, updated_at, attempts, possible_duplicates'

/** `($n, …), (…)`: `rows` tuples of `width` parameters, numbered from `offset + 1`. */
export function placeholders(rows, width, offset) {
  return Array.from(
    { length: rows },
    (_, row) =>
      `(${Array.from({ length: width }, (_, column) => `$${offset + row * width + column + 1}`).join(', ')})`,
  ).join(', ')
}
