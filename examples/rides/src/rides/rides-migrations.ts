import { exactTextType, type ModuleMigrations } from '@mortar/core'
import { sql } from 'kysely'

/** The rides tables: users (with their password hash) and trips, indexed for each role's list. */
export const ridesMigrations: ModuleMigrations = {
  '0001_create_users': {
    async up(db, { engine }) {
      // Ids and emails compare exactly: MariaDB's default collation takes 'Adá@…' for 'ada@…'.
      await db.schema
        .createTable('users')
        .addColumn('id', sql.raw(exactTextType(engine, 'varchar(64)')), (column) =>
          column.primaryKey(),
        )
        .addColumn('email', sql.raw(exactTextType(engine, 'varchar(320)')), (column) =>
          column.notNull().unique(),
        )
        .addColumn('name', 'varchar(200)', (column) => column.notNull())
        .addColumn('role', 'varchar(16)', (column) => column.notNull())
        .addColumn('password_hash', 'varchar(255)', (column) => column.notNull())
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('users').execute()
    },
  },
  '0002_create_trips': {
    async up(db, { engine }) {
      await db.schema
        .createTable('trips')
        .addColumn('id', sql.raw(exactTextType(engine, 'varchar(64)')), (column) =>
          column.primaryKey(),
        )
        .addColumn('rider_id', sql.raw(exactTextType(engine, 'varchar(64)')), (column) =>
          column.notNull().references('users.id'),
        )
        .addColumn('driver_id', sql.raw(exactTextType(engine, 'varchar(64)')), (column) =>
          column.references('users.id'),
        )
        .addColumn('status', 'varchar(16)', (column) => column.notNull())
        .addColumn('pickup', 'varchar(200)', (column) => column.notNull())
        .addColumn('dropoff', 'varchar(200)', (column) => column.notNull())
        .addColumn('requested_at', 'varchar(30)', (column) => column.notNull())
        .execute()
      // Each list seeks by (owner, requested_at, id): a rider's, a driver's, and everyone's.
      await db.schema
        .createIndex('trips_rider_requested')
        .on('trips')
        .columns(['rider_id', 'requested_at', 'id'])
        .execute()
      await db.schema
        .createIndex('trips_driver_requested')
        .on('trips')
        .columns(['driver_id', 'requested_at', 'id'])
        .execute()
      await db.schema
        .createIndex('trips_requested')
        .on('trips')
        .columns(['requested_at', 'id'])
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('trips').execute()
    },
  },
}
