import type { ModuleMigrations } from '@mortar/core'

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
}
