import { type Clock, type Migration, ValidationError } from '@mortar/core'
import type { Kysely } from 'kysely'
import type { ChannelName } from '../channels/channel.js'
import { PreferenceRequiredError } from '../errors.js'
import { idColumn, sqlEngine } from '../sql/index.js'
import type { CategoryOptions, PreferenceEntry } from './preference-policy.js'

export const PREFERENCE_TABLE = 'mortar_notification_preference'

interface PreferenceRow {
  recipient_id: string
  category: string
  channel: string
  enabled: number | boolean
  updated_at: number | string | bigint
}

export interface PreferenceTables {
  mortar_notification_preference: PreferenceRow
}

/** What {@link Preferences.set} takes: a category (or `'*'`), a channel (`'*'` by default), on or off. */
export interface PreferenceChoice {
  readonly category: string
  readonly channel?: ChannelName | '*'
  readonly enabled: boolean
}

/**
 * Recipients' notification preferences in the app's database: per category and channel, on or
 * off. `set` refuses unknown categories and channels (a `ValidationError`) and turning off a
 * required or critical category (a `PreferenceRequiredError`), so bad input never becomes a
 * stored choice that silently does nothing.
 *
 * @example
 * ```ts
 * import { PREFERENCES } from '@mortar/notify'
 *
 * const preferences = app.resolve(PREFERENCES)
 * await preferences.set(user.id, { category: 'marketing', enabled: false })
 * await preferences.set(user.id, { category: 'orders', channel: 'sms', enabled: false })
 * const choices = await preferences.list(user.id)
 * ```
 */
export class Preferences {
  readonly #db: Kysely<PreferenceTables>
  readonly #clock: Clock
  readonly #categories: Readonly<Record<string, CategoryOptions>>
  readonly #channels: ReadonlySet<string>

  constructor(
    db: Kysely<unknown>,
    clock: Clock,
    categories: Readonly<Record<string, CategoryOptions>>,
    channels: readonly ChannelName[],
  ) {
    this.#db = db as Kysely<PreferenceTables>
    this.#clock = clock
    this.#categories = categories
    this.#channels = new Set(channels)
  }

  /** The categories the notify module knows, with their options. */
  get categories(): Readonly<Record<string, CategoryOptions>> {
    return this.#categories
  }

  /** The recipient's stored choices. */
  async list(recipientId: string): Promise<PreferenceEntry[]> {
    const rows = await this.#db
      .selectFrom(PREFERENCE_TABLE)
      .select(['recipient_id as owner', 'category', 'channel', 'enabled'])
      .where('recipient_id', '=', recipientId)
      .execute()
    return groupByOwner(rows).get(recipientId) ?? []
  }

  /** Stores a choice, replacing the one for the same category and channel. */
  async set(recipientId: string, choice: PreferenceChoice): Promise<void> {
    const channel = choice.channel ?? '*'
    if (typeof recipientId !== 'string' || recipientId === '') {
      throw invalid('recipientId', 'A recipient id is required.')
    }
    if (choice.category !== '*' && !Object.hasOwn(this.#categories, choice.category)) {
      throw invalid(
        'category',
        `Unknown category '${choice.category}'; known: ${Object.keys(this.#categories).join(', ') || 'none'}.`,
      )
    }
    if (channel !== '*' && !this.#channels.has(channel)) {
      throw invalid('channel', `Unknown channel '${channel}'.`)
    }
    if (typeof choice.enabled !== 'boolean') throw invalid('enabled', 'true or false.')
    const options = this.#categories[choice.category]
    if (!choice.enabled && (options?.required === true || options?.critical === true)) {
      throw new PreferenceRequiredError(choice.category)
    }
    const row = {
      recipient_id: recipientId,
      category: choice.category,
      channel,
      enabled: choice.enabled ? 1 : 0,
      updated_at: this.#clock.nowMs(),
    }
    const insert = this.#db.insertInto(PREFERENCE_TABLE).values(row)
    if (sqlEngine(this.#db as Kysely<unknown>) === 'mysql') {
      await insert
        .onDuplicateKeyUpdate({ enabled: row.enabled, updated_at: row.updated_at })
        .execute()
    } else {
      await insert
        .onConflict((conflict) =>
          conflict
            .columns(['recipient_id', 'category', 'channel'])
            .doUpdateSet({ enabled: row.enabled, updated_at: row.updated_at }),
        )
        .execute()
    }
  }

  /** Forgets every choice of the recipient (they get the defaults again). */
  async clear(recipientId: string): Promise<void> {
    await this.#db.deleteFrom(PREFERENCE_TABLE).where('recipient_id', '=', recipientId).execute()
  }
}

function invalid(path: string, message: string): ValidationError {
  return new ValidationError([{ path, message, code: 'invalid' }], `Invalid preference: ${message}`)
}

/** The migration creating the preferences table. */
export const createPreferenceTable: Migration = {
  async up(db) {
    await db.schema
      .createTable(PREFERENCE_TABLE)
      .addColumn('recipient_id', idColumn(db as Kysely<unknown>, 191), (column) => column.notNull())
      .addColumn('category', idColumn(db as Kysely<unknown>, 191), (column) => column.notNull())
      .addColumn('channel', 'varchar(32)', (column) => column.notNull())
      .addColumn('enabled', 'integer', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('mortar_notification_preference_pk', [
        'recipient_id',
        'category',
        'channel',
      ])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(PREFERENCE_TABLE).execute()
  },
}

/** Preference rows as entries, grouped by whom they belong to (a recipient or a delivery). */
/** Stored choices as entries, by owner: a recipient, or a delivery read with its recipient's. */
export function groupByOwner(
  rows: readonly { owner: string; category: string; channel: string; enabled: unknown }[],
): Map<string, PreferenceEntry[]> {
  const byOwner = new Map<string, PreferenceEntry[]>()
  for (const row of rows) {
    const list = byOwner.get(row.owner) ?? []
    list.push({
      category: row.category,
      channel: row.channel as ChannelName | '*',
      enabled: Boolean(Number(row.enabled)),
    })
    byOwner.set(row.owner, list)
  }
  return byOwner
}
