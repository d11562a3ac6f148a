import { exactTextType, type ModuleMigrations } from '@mortar/core'
import { sql } from 'kysely'

/** The orders' schema, by migration; recorded as `orders/<name>`. Portable across engines. */
export const ordersMigrations: ModuleMigrations = {
  '0001_create_orders': {
    async up(db, { engine }) {
      // Ids and keys compare exactly: MariaDB's default collation takes 'Key' for 'key'.
      await db.schema
        .createTable('orders')
        .addColumn('id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.primaryKey(),
        )
        .addColumn('user_id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.notNull(),
        )
        .addColumn('status', 'varchar(20)', (column) => column.notNull())
        .addColumn('total_cents', 'integer', (column) => column.notNull())
        .addColumn('payment_method_id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.notNull(),
        )
        .addColumn('payment_label', 'varchar(40)', (column) => column.notNull())
        .addColumn('checkout_key', sql.raw(exactTextType(engine, 'varchar(64)')), (column) =>
          column.notNull(),
        )
        .addColumn('tracking_code', sql.raw(exactTextType(engine, 'varchar(64)')))
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .addColumn('updated_at', 'varchar(32)', (column) => column.notNull())
        .execute()
      // Order history pages newest first per user: one index range scan per page.
      await db.schema
        .createIndex('orders_user_created')
        .on('orders')
        .columns(['user_id', 'created_at', 'id'])
        .execute()
      // The admin's list, newest first across users.
      await db.schema
        .createIndex('orders_created')
        .on('orders')
        .columns(['created_at', 'id'])
        .execute()
      // A repeated checkout (double submit, retried request) finds the first one's order.
      await db.schema
        .createIndex('orders_user_checkout_key')
        .unique()
        .on('orders')
        .columns(['user_id', 'checkout_key'])
        .execute()
      await db.schema
        .createTable('order_lines')
        .addColumn('order_id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.notNull().references('orders.id').onDelete('cascade'),
        )
        .addColumn('product_id', 'integer', (column) => column.notNull())
        .addColumn('product_name', 'varchar(200)', (column) => column.notNull())
        .addColumn('unit_price_cents', 'integer', (column) => column.notNull())
        .addColumn('quantity', 'integer', (column) => column.notNull())
        .addPrimaryKeyConstraint('order_lines_pk', ['order_id', 'product_id'])
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('order_lines').execute()
      await db.schema.dropTable('orders').execute()
    },
  },
}
