import { exactTextType, type ModuleMigrations } from '@mortar/core'
import { sql } from 'kysely'

/** The payments' schema, by migration; recorded as `payments/<name>`. */
export const paymentsMigrations: ModuleMigrations = {
  '0001_create_payment_methods': {
    async up(db, { engine }) {
      // Ids compare exactly: MariaDB's default collation takes 'Id' for 'id'.
      await db.schema
        .createTable('payment_methods')
        .addColumn('id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.primaryKey(),
        )
        .addColumn('user_id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.notNull(),
        )
        .addColumn('brand', 'varchar(20)', (column) => column.notNull())
        .addColumn('last4', 'varchar(4)', (column) => column.notNull())
        // A Vault envelope is longer than the token it holds; text fits any token length.
        .addColumn('token_ciphertext', 'text', (column) => column.notNull())
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .execute()
      // Listing a user's cards is a range scan in creation order.
      await db.schema
        .createIndex('payment_methods_user_created')
        .on('payment_methods')
        .columns(['user_id', 'created_at'])
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('payment_methods').execute()
    },
  },
}
