import type { Migration, ModuleMigrations } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { markSuppressions, SUPPRESSION_LOCK_ROW } from '../privacy/suppressed-writes.js'
import { MAX_PERSON_KEY_LENGTH } from '../queries/person-key.js'
import { rebuildStaleLists } from '../rollups/also-lists.js'
import { tagBareUnits, untagUnits } from '../rollups/legacy-units.js'
import {
  ALSO_TABLE,
  BATCH_TABLE,
  DAILY_TABLE,
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
  ITEM_TABLE,
  PAIR_TABLE,
  SALT_TABLE,
  STALE_ITEM_TABLE,
  STATE_TABLE,
  SUPPRESSED_ANONYMOUS_TABLE,
  SUPPRESSED_TABLE,
  SUPPRESSED_WHOLE_TABLE,
  TOP_DAY_TABLE,
  TOP_TABLE,
  UNIT_ITEM_TABLE,
  UNIT_STAGE_TABLE,
} from './analytics-tables.js'
import { engineOf, exactLongText, jsonType, longText, textKey, uuidType } from './sql-dialect.js'

const createEventTables: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    const id = textKey(engine, 255)
    // Narrow and append-only. The key starts with the time, so range scans read one slice of
    // it (and InnoDB clusters rows in time order); the id in it makes writes idempotent.
    await db.schema
      .createTable(EVENT_TABLE)
      .addColumn('occurred_at', 'bigint', (c) => c.notNull())
      .addColumn('id', uuidType(engine), (c) => c.notNull())
      .addColumn('batch_id', 'bigint', (c) => c.notNull())
      .addColumn('name', textKey(engine, 100), (c) => c.notNull())
      .addColumn('user_id', id)
      .addColumn('anonymous_id', id)
      .addColumn('session_id', id)
      .addColumn('properties', jsonType(engine), (c) => c.notNull())
      .addPrimaryKeyConstraint(`${EVENT_TABLE}_pk`, ['occurred_at', 'id'])
      .execute()
    // For forgetUser and identity stitching; everything else reads by time.
    await db.schema.createIndex(`${EVENT_TABLE}_user`).on(EVENT_TABLE).column('user_id').execute()
    await db.schema
      .createIndex(`${EVENT_TABLE}_anonymous`)
      .on(EVENT_TABLE)
      .column('anonymous_id')
      .execute()

    await db.schema
      .createTable(FAILED_TABLE)
      .addColumn('id', uuidType(engine), (c) => c.primaryKey())
      .addColumn('occurred_at', 'bigint', (c) => c.notNull())
      .addColumn('batch_id', 'bigint', (c) => c.notNull())
      .addColumn('name', textKey(engine, 255), (c) => c.notNull())
      .addColumn('user_id', id)
      .addColumn('anonymous_id', id)
      .addColumn('reason', longText(engine), (c) => c.notNull())
      .addColumn('properties', longText(engine))
      .execute()
    await db.schema.createIndex(`${FAILED_TABLE}_user`).on(FAILED_TABLE).column('user_id').execute()

    await db.schema
      .createTable(IDENTITY_TABLE)
      .addColumn('anonymous_id', id, (c) => c.primaryKey())
      .addColumn('user_id', id, (c) => c.notNull())
      .addColumn('linked_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex(`${IDENTITY_TABLE}_user`)
      .on(IDENTITY_TABLE)
      .column('user_id')
      .execute()

    await db.schema
      .createTable(SUPPRESSED_TABLE)
      .addColumn('user_id', id, (c) => c.primaryKey())
      .addColumn('suppressed_at', 'bigint', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable(SALT_TABLE)
      .addColumn('day', textKey(engine, 10), (c) => c.primaryKey())
      .addColumn('salt', textKey(engine, 64), (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()

    // One row per written batch until the rollup has folded it in: stays small by design.
    await db.schema
      .createTable(BATCH_TABLE)
      .addColumn('batch_id', 'bigint', (c) => c.primaryKey())
      .addColumn('first_at', 'bigint', (c) => c.notNull())
      .addColumn('last_at', 'bigint', (c) => c.notNull())
      .addColumn('events', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable(STATE_TABLE)
      .addColumn('name', textKey(engine, 64), (c) => c.primaryKey())
      .addColumn('value', longText(engine), (c) => c.notNull())
      .execute()
    await db.insertInto(STATE_TABLE).values({ name: 'rollup', value: '{}' }).execute()
  },
  async down(db) {
    for (const table of [
      STATE_TABLE,
      BATCH_TABLE,
      SALT_TABLE,
      SUPPRESSED_TABLE,
      IDENTITY_TABLE,
      FAILED_TABLE,
      EVENT_TABLE,
    ]) {
      await db.schema.dropTable(table).execute()
    }
  },
}

const createRollupTables: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    for (const table of [DAILY_TABLE, TOP_TABLE]) {
      await db.schema
        .createTable(table)
        .addColumn('name', textKey(engine, 100), (c) => c.notNull())
        .addColumn('prop', textKey(engine, 64), (c) => c.notNull())
        .addColumn('day', textKey(engine, 10), (c) => c.notNull())
        .addColumn('value', textKey(engine, 255), (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint(`${table}_pk`, ['name', 'prop', 'day', 'value'])
        .execute()
    }
    await db.schema
      .createTable(TOP_DAY_TABLE)
      .addColumn('name', textKey(engine, 100), (c) => c.notNull())
      .addColumn('prop', textKey(engine, 64), (c) => c.notNull())
      .addColumn('day', textKey(engine, 10), (c) => c.notNull())
      .addColumn('threshold', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${TOP_DAY_TABLE}_pk`, ['name', 'prop', 'day'])
      .execute()
    await db.schema
      .createTable(UNIT_ITEM_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('actor', textKey(engine, 255), (c) => c.notNull())
      .addColumn('unit', textKey(engine, 32), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addPrimaryKeyConstraint(`${UNIT_ITEM_TABLE}_pk`, ['kind', 'actor', 'unit', 'item'])
      .execute()
    await db.schema
      .createTable(PAIR_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addColumn('other', textKey(engine, 255), (c) => c.notNull())
      .addColumn('count', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${PAIR_TABLE}_pk`, ['kind', 'item', 'other'])
      .execute()
    await db.schema
      .createTable(ITEM_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addColumn('units', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${ITEM_TABLE}_pk`, ['kind', 'item'])
      .execute()
  },
  async down(db) {
    for (const table of [
      ITEM_TABLE,
      PAIR_TABLE,
      UNIT_ITEM_TABLE,
      TOP_DAY_TABLE,
      TOP_TABLE,
      DAILY_TABLE,
    ]) {
      await db.schema.dropTable(table).execute()
    }
  },
}

const createUnitStage: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    // The rollup stages a run's new (unit, item) rows here so that pairs, audiences and units
    // each come from one statement; a permanent table because MariaDB cannot read a temporary
    // one twice in a statement.
    await db.schema
      .createTable(UNIT_STAGE_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('actor', textKey(engine, 255), (c) => c.notNull())
      .addColumn('unit', textKey(engine, 32), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addPrimaryKeyConstraint(`${UNIT_STAGE_TABLE}_pk`, ['kind', 'actor', 'unit', 'item'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(UNIT_STAGE_TABLE).execute()
  },
}

const createAlsoLists: Migration = {
  async up(db) {
    const kysely = db as Kysely<unknown>
    const engine = engineOf(kysely)
    // Each item's best-ranked other items, kept by the rollup: a recommendation reads a few
    // rows of this key instead of ranking all of an item's pairs.
    await db.schema
      .createTable(ALSO_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addColumn('place', 'integer', (c) => c.notNull())
      .addColumn('other', textKey(engine, 255), (c) => c.notNull())
      .addColumn('together', 'bigint', (c) => c.notNull())
      .addColumn('units', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${ALSO_TABLE}_pk`, ['kind', 'item', 'place'])
      .execute()
    // The rollup finds the lists naming an item whose audience grew.
    await db.schema
      .createIndex(`${ALSO_TABLE}_other`)
      .on(ALSO_TABLE)
      .columns(['kind', 'other'])
      .execute()
    await db.schema
      .createTable(STALE_ITEM_TABLE)
      .addColumn('kind', textKey(engine, 16), (c) => c.notNull())
      .addColumn('item', textKey(engine, 255), (c) => c.notNull())
      .addPrimaryKeyConstraint(`${STALE_ITEM_TABLE}_pk`, ['kind', 'item'])
      .execute()
    // Lists for what earlier rollups counted.
    await sql`insert into ${sql.table(STALE_ITEM_TABLE)} (kind, item) select distinct kind, item from ${sql.table(PAIR_TABLE)}`.execute(
      db,
    )
    for (const kind of ['viewed', 'bought'] as const) {
      await rebuildStaleLists({ db: kysely, engine, timeZone: 'UTC' }, kind)
    }
  },
  async down(db) {
    await db.schema.dropTable(STALE_ITEM_TABLE).execute()
    await db.schema.dropTable(ALSO_TABLE).execute()
  },
}

const addRequestFields: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    // Nullable columns at the end: no table rewrite on any engine.
    await db.schema.alterTable(EVENT_TABLE).addColumn('ip', textKey(engine, 45)).execute()
    await db.schema.alterTable(EVENT_TABLE).addColumn('user_agent', textKey(engine, 512)).execute()
    await db.schema.alterTable(EVENT_TABLE).addColumn('country', textKey(engine, 2)).execute()
  },
  async down(db) {
    for (const column of ['country', 'user_agent', 'ip']) {
      await db.schema.alterTable(EVENT_TABLE).dropColumn(column).execute()
    }
  },
}

const suppressAnonymousIds: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    // forgetUser suppresses the anonymous ids linked to the user as well as the user id.
    await db.schema
      .createTable(SUPPRESSED_ANONYMOUS_TABLE)
      .addColumn('anonymous_id', textKey(engine, 255), (c) => c.primaryKey())
      .addColumn('suppressed_at', 'bigint', (c) => c.notNull())
      .execute()
    // The row batch writes share-lock and forgetUser locks: see suppressed-writes.ts.
    await db.insertInto(STATE_TABLE).values(SUPPRESSION_LOCK_ROW).execute()
  },
  async down(db) {
    await db.deleteFrom(STATE_TABLE).where('name', '=', SUPPRESSION_LOCK_ROW.name).execute()
    await db.schema.dropTable(SUPPRESSED_ANONYMOUS_TABLE).execute()
  },
}

const markExistingSuppressions: Migration = {
  async up(db) {
    // Batch writes look suppressions up only once forgetUser has marked that some exist: mark
    // a database where it ran before the mark did.
    const kysely = db as Kysely<unknown>
    for (const table of [SUPPRESSED_TABLE, SUPPRESSED_ANONYMOUS_TABLE]) {
      const { rows } = await sql`select 1 as one from ${sql.table(table)} limit 1`.execute(kysely)
      if (rows.length > 0) {
        await markSuppressions(kysely)
        return
      }
    }
  },
  async down() {
    // The mark only saves lookups: 0006's code reads none of it.
  },
}

const keepWholeFailedIds: Migration = {
  async up(db) {
    const engine = engineOf(db as Kysely<unknown>)
    // A failed event's name and ids may be what no column holds (past 255 characters, a U+0000):
    // cut or replaced to fit, two users' ids became one, and forgetUser erased one's rows for
    // the other. Kept whole here as JSON; the id columns stay NULL then. Nullable columns at
    // the end: no table rewrite on any engine.
    for (const column of ['whole_name', 'whole_user_id', 'whole_anonymous_id']) {
      await db.schema.alterTable(FAILED_TABLE).addColumn(column, exactLongText(engine)).execute()
    }
    await db.schema
      .createTable(SUPPRESSED_WHOLE_TABLE)
      .addColumn('digest', textKey(engine, 64), (c) => c.primaryKey())
      .addColumn('user_id', exactLongText(engine), (c) => c.notNull())
      .addColumn('suppressed_at', 'bigint', (c) => c.notNull())
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(SUPPRESSED_WHOLE_TABLE).execute()
    for (const column of ['whole_anonymous_id', 'whole_user_id', 'whole_name']) {
      await db.schema.alterTable(FAILED_TABLE).dropColumn(column).execute()
    }
  },
}

const tagUnitActors: Migration = {
  async up(db) {
    const kysely = db as Kysely<unknown>
    const engine = engineOf(kysely)
    // A unit's actor becomes a person key: the id and a tag, one character wider. SQLite keeps
    // any length.
    for (const table of [UNIT_ITEM_TABLE, UNIT_STAGE_TABLE]) {
      const type = textKey(engine, MAX_PERSON_KEY_LENGTH)
      if (engine === 'postgres') {
        await db.schema
          .alterTable(table)
          .alterColumn('actor', (c) => c.setDataType(type))
          .execute()
      } else if (engine === 'mysql') {
        await db.schema
          .alterTable(table)
          .modifyColumn('actor', type, (c) => c.notNull())
          .execute()
      }
    }
    // MariaDB commits DDL by itself: the rows are rewritten in a transaction of their own.
    const tag = (trx: Kysely<unknown>) => tagBareUnits({ db: trx, engine, timeZone: 'UTC' })
    if (engine === 'mysql') await kysely.transaction().execute(tag)
    else await tag(kysely)
  },
  async down(db) {
    const kysely = db as Kysely<unknown>
    const engine = engineOf(kysely)
    await untagUnits({ db: kysely, engine, timeZone: 'UTC' })
  },
}

/**
 * The migrations of the analytics tables; `analyticsModule` carries them (`app.migrate()` runs
 * them). Use them directly only to run them under a module of your own.
 *
 * @example
 * ```ts
 * import { ModuleMigrator } from '@mortar/core'
 * import { analyticsMigrations } from '@mortar/analytics'
 *
 * await new ModuleMigrator({ db, sources: [{ module: 'analytics', migrations: analyticsMigrations }] }).up()
 * ```
 */
export const analyticsMigrations: ModuleMigrations = {
  '0001_create_event_tables': createEventTables,
  '0002_create_rollup_tables': createRollupTables,
  '0003_create_unit_stage': createUnitStage,
  '0004_create_also_lists': createAlsoLists,
  '0005_add_request_fields': addRequestFields,
  '0006_suppress_anonymous_ids': suppressAnonymousIds,
  '0007_mark_existing_suppressions': markExistingSuppressions,
  '0008_keep_whole_failed_ids': keepWholeFailedIds,
  '0009_tag_unit_actors': tagUnitActors,
}
