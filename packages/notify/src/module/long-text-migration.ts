import type { Migration } from '@mortar/core'
import { sql } from 'kysely'
import { INBOX_TABLE } from '../channels/inbox/inbox-store.js'
import { DELIVERY_TABLE } from '../ledger/delivery-table.js'

// MySQL/MariaDB columns created as `text`, which stops at 64 KiB there (PostgreSQL's and
// SQLite's take any size), for values nothing bounds below that: a delivery's address once
// sealed (a webhook URL the recipient check takes up to 64 KiB grows by a third), an inbox
// item's title.
const COLUMNS = [
  [DELIVERY_TABLE, 'address', ''],
  [INBOX_TABLE, 'title', ' not null'],
] as const

/**
 * Makes those columns `mediumtext` on MySQL/MariaDB: there a notify() with such an address
 * failed whole with the database's error and such an inbox item was retried until dead, where the
 * other engines stored them. Nothing to do on the others.
 */
export const roomForLongText: Migration = {
  async up(db, { engine }) {
    if (engine !== 'mysql') return
    for (const [table, column, nullability] of COLUMNS) {
      await sql`alter table ${sql.table(table)} modify ${sql.ref(column)} mediumtext${sql.raw(nullability)}`.execute(
        db,
      )
    }
  },
  async down(db, { engine }) {
    if (engine !== 'mysql') return
    for (const [table, column, nullability] of COLUMNS) {
      await sql`alter table ${sql.table(table)} modify ${sql.ref(column)} text${sql.raw(nullability)}`.execute(
        db,
      )
    }
  },
}
