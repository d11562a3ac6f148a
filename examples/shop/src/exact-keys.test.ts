import { resolveDatabase } from '@mortar/core'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { shopTestEngines, useTestShop } from './testing/test-shop.js'

// Only MySQL/MariaDB compare text leniently by default (case, accents, trailing spaces): on
// PostgreSQL and SQLite a text column compares exactly unless a migration says otherwise.
const mysql = shopTestEngines().filter((engine) => engine.engine === 'mysql')

// Columns that name something (an id, a key, an email, a code): a lookup by one must find only it.
const NAMING = /^(id|.+_id|.+_key|key|email|.+_code|code)$/

for (const engine of mysql) {
  // Skipped only when MORTAR_TEST_MYSQL_URL is unset (the notice names it); .ci/run sets it.
  describe.skipIf(engine.skip !== undefined)(`the shop's schema on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })

    // The packages' tables (mortar_*) are their own packages' business and tested there.
    it('gives every id, key, email and code column of its tables an exact (binary, no-pad) collation', async () => {
      const { rows } = await sql<{ table: string; column: string; collation: string }>`
        select table_name as \`table\`, column_name as \`column\`, collation_name as collation
        from information_schema.columns
        where table_schema = database() and collation_name is not null
          and table_name not like 'mortar\\_%'`.execute(resolveDatabase(shop().app))
      const naming = rows.filter((row) => NAMING.test(row.column))
      expect(naming.map((row) => `${row.table}.${row.column}`)).toContain('orders.checkout_key')
      const lenient = naming
        .filter((row) => !/^utf8mb4_(nopad_bin|0900_bin)$/.test(row.collation))
        .map((row) => `${row.table}.${row.column} (${row.collation})`)
      expect(lenient).toEqual([])
    })
  })
}
