import { exactTextType, type ModuleMigrations } from '@mortar/core'
import { sql } from 'kysely'
import { searchName } from './search-name.js'

/** The catalog's schema, by migration; recorded as `catalog/<name>`. */
export const catalogMigrations: ModuleMigrations = {
  '0001_create_products': {
    async up(db) {
      await db.schema
        .createTable('products')
        .addColumn('id', 'integer', (column) => column.primaryKey())
        .addColumn('name', 'varchar(200)', (column) => column.notNull())
        .addColumn('description', 'varchar(1000)', (column) => column.notNull())
        .addColumn('price_cents', 'integer', (column) => column.notNull())
        .execute()
      // Serves the listing's keyset order (name, id): each page is an index range scan.
      await db.schema
        .createIndex('products_name_id')
        .on('products')
        .columns(['name', 'id'])
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('products').execute()
    },
  },
  '0002_add_product_stock': {
    async up(db) {
      // The CHECK is the last line of defence; checkout's conditional update is the first.
      await db.schema
        .alterTable('products')
        .addColumn('stock', 'integer', (column) =>
          column.notNull().defaultTo(0).check(sql`stock >= 0`),
        )
        .execute()
      // Products listed before stock was counted stay buyable.
      await db.updateTable('products').set({ stock: 20 }).execute()
    },
    async down(db) {
      await db.schema.alterTable('products').dropColumn('stock').execute()
    },
  },
  '0003_add_product_search_name': {
    async up(db, { engine }) {
      // Compared exactly: MariaDB's default collation would take 'eclair' for 'éclair'. Text,
      // since folding may lengthen a name.
      await db.schema
        .alterTable('products')
        .addColumn('search_name', sql.raw(exactTextType(engine, 'text')))
        .execute()
      // Folded by JavaScript, as the search folds its query (SQL's lower() differs by engine).
      let after = 0
      for (;;) {
        const rows = await db
          .selectFrom('products')
          .select(['id', 'name'])
          .where('id', '>', after)
          .orderBy('id')
          .limit(500)
          .execute()
        if (rows.length === 0) break
        for (const row of rows) {
          await db
            .updateTable('products')
            .set({ search_name: searchName(String(row.name)) })
            .where('id', '=', row.id)
            .execute()
        }
        after = Number(rows.at(-1)?.id)
      }
    },
    async down(db) {
      await db.schema.alterTable('products').dropColumn('search_name').execute()
    },
  },
}
