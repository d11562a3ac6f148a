import { exactTextType, type ModuleMigrations } from '@mortar/core'
import { sql } from 'kysely'

/** The accounts' schema, by migration; recorded as `accounts/<name>`. */
export const accountsMigrations: ModuleMigrations = {
  '0001_create_users': {
    async up(db, { engine }) {
      // Ids and emails compare exactly: MariaDB's default collation takes 'adá@…' for 'ada@…'.
      await db.schema
        .createTable('users')
        .addColumn('id', sql.raw(exactTextType(engine, 'varchar(36)')), (column) =>
          column.primaryKey(),
        )
        .addColumn('email', sql.raw(exactTextType(engine, 'varchar(254)')), (column) =>
          column.notNull(),
        )
        .addColumn('password_hash', 'varchar(255)', (column) => column.notNull())
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .execute()
      // Emails are stored lower-cased, so a plain unique index makes sign-up race-safe.
      await db.schema.createIndex('users_email').unique().on('users').column('email').execute()
    },
    async down(db) {
      await db.schema.dropTable('users').execute()
    },
  },
  '0002_add_user_role': {
    async up(db) {
      await db.schema
        .alterTable('users')
        .addColumn('role', 'varchar(20)', (column) => column.notNull().defaultTo('customer'))
        .execute()
    },
    async down(db) {
      await db.schema.alterTable('users').dropColumn('role').execute()
    },
  },
  '0003_add_user_phone': {
    async up(db) {
      await db.schema.alterTable('users').addColumn('phone', 'varchar(16)').execute()
      await db.schema
        .alterTable('users')
        .addColumn('sms_opt_in', 'boolean', (column) => column.notNull().defaultTo(false))
        .execute()
    },
    async down(db) {
      await db.schema.alterTable('users').dropColumn('sms_opt_in').execute()
      await db.schema.alterTable('users').dropColumn('phone').execute()
    },
  },
}
