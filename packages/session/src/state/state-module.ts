import {
  CLOCK,
  databaseToken,
  defineModule,
  type Migration,
  type Module,
  type ModuleMigrations,
  schedule,
} from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { caseSensitiveVarchar, sqlEngine } from '../sql/index.js'
import { KyselyStateStore, STATE_TABLE } from './kysely-state-store.js'
import { MAX_STATE_KEY_LENGTH } from './state-values.js'
import { STATE_STORE } from './state-store.js'

const createStateTable: Migration = {
  async up(db) {
    const kysely = db as Kysely<unknown>
    const id = caseSensitiveVarchar(kysely, MAX_STATE_KEY_LENGTH)
    // MySQL's `text` holds 64 KiB minus one byte, under the default limit: use `mediumtext`.
    const text = sqlEngine(kysely) === 'mysql' ? sql.raw('mediumtext') : sql.raw('text')
    await db.schema
      .createTable(STATE_TABLE)
      .addColumn('owner', id, (column) => column.notNull())
      .addColumn('namespace', caseSensitiveVarchar(kysely, 100), (column) => column.notNull())
      .addColumn('state_key', id, (column) => column.notNull())
      .addColumn('value', text, (column) => column.notNull())
      .addColumn('version', 'integer', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('mortar_state_pk', ['owner', 'namespace', 'state_key'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(STATE_TABLE).execute()
  },
}

const addExpiresAt: Migration = {
  async up(db) {
    await db.schema.alterTable(STATE_TABLE).addColumn('expires_at', 'bigint').execute()
    // prune() finds expired rows by it.
    await db.schema
      .createIndex('mortar_state_expires_at')
      .on(STATE_TABLE)
      .column('expires_at')
      .execute()
  },
  async down(db) {
    // MySQL/MariaDB name an index within its table; the others within the schema.
    const drop = db.schema.dropIndex('mortar_state_expires_at')
    await (sqlEngine(db as Kysely<unknown>) === 'mysql' ? drop.on(STATE_TABLE) : drop).execute()
    await db.schema.alterTable(STATE_TABLE).dropColumn('expires_at').execute()
  },
}

/**
 * The migrations that create the `mortar_state` table; {@link stateModule} carries them.
 *
 * @example
 * ```ts
 * import { ModuleMigrator } from '@mortar/core'
 * import { stateMigrations } from '@mortar/session'
 *
 * await new ModuleMigrator({ db, sources: [{ module: 'state', migrations: stateMigrations }] }).up()
 * ```
 */
export const stateMigrations: ModuleMigrations = {
  '0001_create_mortar_state': createStateTable,
  '0002_add_mortar_state_expires_at': addExpiresAt,
}

/** Options of {@link stateModule}. */
export interface StateModuleOptions {
  /** The default size limit of a value, in UTF-8 bytes of JSON (64 KiB); namespaces may differ. */
  readonly maxBytes?: number
}

/**
 * A module binding `STATE_STORE` to a {@link KyselyStateStore} on the app database, with the
 * migrations of its table (`app.migrate()` runs them) and an hourly schedule
 * (`state.prune-expired`, run by the app's workers) that deletes the entries whose `ttl` has
 * passed, so the table does not grow with entries nobody reads again.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { STATE_STORE, stateModule } from '@mortar/session'
 *
 * const app = createApp({ database: 'sqlite:./var/app.db', modules: [stateModule()] })
 * await app.migrate()
 * await app.start()
 * const state = app.resolve(STATE_STORE)
 * ```
 */
export function stateModule(options: StateModuleOptions = {}): Module {
  return defineModule({
    name: 'state',
    migrations: stateMigrations,
    register(binder) {
      binder.bind(STATE_STORE, {
        inject: [databaseToken<unknown>(), CLOCK],
        useFactory: (db, clock) => new KyselyStateStore({ db, clock, ...options }),
      })
    },
    schedules: [
      schedule('state.prune-expired', { every: '1h' }, async (_tick, job) => {
        const pruned = await job.resolve(STATE_STORE).prune()
        job.logger.debug({ pruned }, 'Expired state entries pruned')
      }),
    ],
  })
}
