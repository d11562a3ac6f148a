import { sql } from 'kysely'
import { convertToExactUtf8, MYSQL_EXACT_TABLE } from '../../persistence/database/exact-text.js'
import type { Migration, ModuleMigrations } from '../../persistence/migrations/index.js'

/**
 * `mortar_job`: one row per job until it finishes (then deleted) or dies (then kept). A running
 * job's `run_at` is its lease's end, so "due" and "lease expired" are one condition and one
 * index. `dedup_key` is unique among live jobs: a partial index on PostgreSQL and SQLite; MariaDB
 * has no partial indexes, so a stored generated column holds the key only while the job lives,
 * and NULLs never collide in a unique index.
 */
const createJobTable: Migration = {
  async up(db, { engine }) {
    if (engine === 'postgres') {
      await sql`create table mortar_job (
        id bigint generated always as identity primary key,
        name varchar(191) not null,
        payload text not null,
        dedup_key varchar(191),
        run_at bigint not null,
        attempts integer not null default 0,
        max_attempts integer not null,
        locked_by varchar(64),
        progress text,
        errors text,
        created_at bigint not null,
        dead_at bigint
      )`.execute(db)
    } else if (engine === 'mysql') {
      await sql`create table mortar_job (
        id bigint not null auto_increment primary key,
        name varchar(191) not null,
        payload mediumtext not null,
        dedup_key varchar(191) null,
        run_at bigint not null,
        attempts int not null default 0,
        max_attempts int not null,
        locked_by varchar(64) null,
        progress text null,
        errors mediumtext null,
        created_at bigint not null,
        dead_at bigint null,
        live_key varchar(191) as (if(dead_at is null, dedup_key, null)) stored,
        unique key mortar_job_live_key (live_key),
        key mortar_job_due (dead_at, run_at, id)
      ) engine = InnoDB ${sql.raw(MYSQL_EXACT_TABLE)}`.execute(db)
      return
    } else {
      await sql`create table mortar_job (
        id integer primary key autoincrement,
        name text not null,
        payload text not null,
        dedup_key text,
        run_at integer not null,
        attempts integer not null default 0,
        max_attempts integer not null,
        locked_by text,
        progress text,
        errors text,
        created_at integer not null,
        dead_at integer
      )`.execute(db)
    }
    await sql`create index mortar_job_due on mortar_job (run_at, id) where dead_at is null`.execute(
      db,
    )
    await sql`create unique index mortar_job_live_key on mortar_job (dedup_key) where dead_at is null and dedup_key is not null`.execute(
      db,
    )
  },
  async down(db) {
    await db.schema.dropTable('mortar_job').execute()
  },
}

/** `mortar_schedule`: each schedule's next tick, the row every process races to move on. */
const createScheduleTable: Migration = {
  async up(db, { engine }) {
    const mysql = engine === 'mysql'
    await db.schema
      .createTable('mortar_schedule')
      .addColumn('name', 'varchar(191)', (column) => column.primaryKey())
      .addColumn('spec', 'varchar(400)', (column) => column.notNull())
      .addColumn('next_at', 'bigint', (column) => column.notNull())
      .addColumn('last_at', 'bigint')
      .$call((builder) => (mysql ? builder.modifyEnd(sql.raw(MYSQL_EXACT_TABLE)) : builder))
      .execute()
  },
  async down(db) {
    await db.schema.dropTable('mortar_schedule').execute()
  },
}

/**
 * MariaDB only: `claim_token`, the token of the claim that last took the row. MariaDB has no
 * `UPDATE … RETURNING`, so a claim marks the rows its one UPDATE takes and reads them back by the
 * mark (its own, never an earlier claim's of the same worker and lease end).
 */
const addClaimToken: Migration = {
  async up(db, { engine }) {
    if (engine !== 'mysql') return
    await sql`alter table mortar_job add column claim_token char(16) null`.execute(db)
  },
  async down(db, { engine }) {
    if (engine !== 'mysql') return
    await sql`alter table mortar_job drop column claim_token`.execute(db)
  },
}

/**
 * MariaDB only: both tables in UTF-8 with the exact collation. 0001 and 0002 create them so now;
 * a database they were applied to by an older Mortar may hold another charset or a padding
 * collation (`'a'` and `'a '` one dedup key). Converts only a table that differs.
 */
const convertToUtf8mb4: Migration = {
  async up(db, { engine }) {
    if (engine !== 'mysql') return
    await convertToExactUtf8(db, 'mortar_job')
    await convertToExactUtf8(db, 'mortar_schedule')
  },
  // The tables stay as 0001 and 0002 make them, so `migrate down` goes on past this one.
  async down() {},
}

/**
 * `relay_token`: the BullMQ engine's outbox rows carry a random token, part of the job's id in
 * Redis, so a row id that comes back (a restore, a reset, another schema on the same Redis
 * prefix) never names a job BullMQ still holds, which it would ignore. Null on the SQL queue.
 */
const addRelayToken: Migration = {
  async up(db) {
    await sql`alter table mortar_job add column relay_token varchar(32) null`.execute(db)
  },
  async down(db) {
    await sql`alter table mortar_job drop column relay_token`.execute(db)
  },
}

/** The migrations of the SQL job queue's tables, recorded under the `mortar.jobs` module. */
export const sqlQueueMigrations: ModuleMigrations = Object.freeze({
  '0001_create_mortar_job': createJobTable,
  '0002_create_mortar_schedule': createScheduleTable,
  '0003_add_mortar_job_claim_token': addClaimToken,
  '0004_convert_mortar_job_to_utf8mb4': convertToUtf8mb4,
  '0005_add_mortar_job_relay_token': addRelayToken,
})
