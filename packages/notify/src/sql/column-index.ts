import type { Migration } from '@mortar/core'

/** A migration adding index `name` on `table`'s `column` (or columns), the same on every engine. */
export function columnIndex(
  name: string,
  table: string,
  column: string | readonly string[],
): Migration {
  return {
    async up(db) {
      await db.schema
        .createIndex(name)
        .on(table)
        .columns(typeof column === 'string' ? [column] : [...column])
        .execute()
    },
    async down(db, { engine }) {
      const drop = db.schema.dropIndex(name)
      // MySQL/MariaDB name an index within its table; the others within the schema.
      await (engine === 'mysql' ? drop.on(table) : drop).execute()
    },
  }
}
