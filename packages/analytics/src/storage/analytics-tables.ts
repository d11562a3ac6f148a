// The tables of @mortar/analytics. Times are milliseconds since the epoch in `bigint` columns:
// one portable type, exact, and cheap to compare.

import type { PersonKey } from '../queries/person-key.js'

export const EVENT_TABLE = 'mortar_analytics_event'
export const FAILED_TABLE = 'mortar_analytics_failed_event'
export const IDENTITY_TABLE = 'mortar_analytics_identity'
export const SUPPRESSED_TABLE = 'mortar_analytics_suppressed'
/** The anonymous ids linked to a forgotten user: their events with no user are never stored. */
export const SUPPRESSED_ANONYMOUS_TABLE = 'mortar_analytics_suppressed_anonymous'
/**
 * Forgotten user ids no id column can hold as given (see `fitsColumn`): only failed events carry
 * them, by `whole_user_id`.
 */
export const SUPPRESSED_WHOLE_TABLE = 'mortar_analytics_suppressed_whole'
export const SALT_TABLE = 'mortar_analytics_salt'
export const BATCH_TABLE = 'mortar_analytics_batch'
export const STATE_TABLE = 'mortar_analytics_state'
export const DAILY_TABLE = 'mortar_analytics_daily'
export const TOP_TABLE = 'mortar_analytics_top'
export const TOP_DAY_TABLE = 'mortar_analytics_top_day'
export const UNIT_ITEM_TABLE = 'mortar_analytics_unit_item'
export const PAIR_TABLE = 'mortar_analytics_pair'
export const ITEM_TABLE = 'mortar_analytics_item'
/** Work table of the rollup's co-occurrence step: empty outside its transaction. */
export const UNIT_STAGE_TABLE = 'mortar_analytics_unit_stage'
/** Each item's best-ranked co-occurring items, as `alsoViewed` / `alsoBought` read them. */
export const ALSO_TABLE = 'mortar_analytics_also'
/** Work table: the items whose ranked list a rollup step must rebuild; empty outside it. */
export const STALE_ITEM_TABLE = 'mortar_analytics_stale_item'

/**
 * The tables whose rows are updated or deleted (every one but the suppressions, which only
 * grow): on PostgreSQL each leaves dead row versions, reclaimed after the module's schedules.
 */
export const CHURNED_TABLES = [
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
  SALT_TABLE,
  BATCH_TABLE,
  STATE_TABLE,
  DAILY_TABLE,
  TOP_TABLE,
  TOP_DAY_TABLE,
  UNIT_ITEM_TABLE,
  PAIR_TABLE,
  ITEM_TABLE,
  UNIT_STAGE_TABLE,
  ALSO_TABLE,
  STALE_ITEM_TABLE,
] as const

/** Integers as the drivers return them: pg and mysql2 give `bigint` columns as strings. */
export type DbInt = number | string | bigint

export interface EventRow {
  occurred_at: DbInt
  id: string
  batch_id: DbInt
  name: string
  user_id: string | null
  anonymous_id: string | null
  session_id: string | null
  properties: string | Record<string, unknown>
  ip: string | null
  user_agent: string | null
  country: string | null
}

export interface FailedEventRow {
  id: string
  occurred_at: DbInt
  batch_id: DbInt
  name: string
  user_id: string | null
  anonymous_id: string | null
  reason: string
  properties: string | null
  /**
   * The name, user id and anonymous id as JSON strings when their column cannot hold them as
   * given (see `fitsColumn`): the user and anonymous id columns are then NULL, the name column
   * its first 255 characters, for reading.
   */
  whole_name: string | null
  whole_user_id: string | null
  whole_anonymous_id: string | null
}

export interface IdentityRow {
  anonymous_id: string
  user_id: string
  linked_at: DbInt
}

export interface SuppressedRow {
  user_id: string
  suppressed_at: DbInt
}

export interface SuppressedWholeRow {
  /** SHA-256 (hex) of `user_id`: the key, as a long text is no key on MariaDB. */
  digest: string
  /** The user id as a JSON string, as `whole_user_id` holds it. */
  user_id: string
  suppressed_at: DbInt
}

export interface SuppressedAnonymousRow {
  anonymous_id: string
  suppressed_at: DbInt
}

export interface SaltRow {
  day: string
  salt: string
  created_at: DbInt
}

export interface BatchRow {
  batch_id: DbInt
  first_at: DbInt
  last_at: DbInt
  events: DbInt
  created_at: DbInt
}

export interface StateRow {
  name: string
  value: string
}

export interface DailyRow {
  name: string
  prop: string
  day: string
  value: string
  count: DbInt
}

export interface TopDayRow {
  name: string
  prop: string
  day: string
  /** The count of the last value kept in the day's list; any value not kept has at most this. */
  threshold: DbInt
}

export interface UnitItemRow {
  kind: string
  /** The person whose unit this is: never a bare id, which a user and a visitor may share. */
  actor: PersonKey
  unit: string
  item: string
}

export interface PairRow {
  kind: string
  item: string
  other: string
  count: DbInt
}

export interface AlsoRow {
  kind: string
  item: string
  /** 1 for the best-ranked other item. */
  place: DbInt
  other: string
  /** The pair's count: units that hold both items. */
  together: DbInt
  /** The other item's audience when the list was built (it is rebuilt when that changes). */
  units: DbInt
}

export interface StaleItemRow {
  kind: string
  item: string
}

export interface ItemRow {
  kind: string
  item: string
  units: DbInt
}

/** The analytics tables, for typed Kysely queries. */
export interface AnalyticsTables {
  mortar_analytics_event: EventRow
  mortar_analytics_failed_event: FailedEventRow
  mortar_analytics_identity: IdentityRow
  mortar_analytics_suppressed: SuppressedRow
  mortar_analytics_suppressed_anonymous: SuppressedAnonymousRow
  mortar_analytics_suppressed_whole: SuppressedWholeRow
  mortar_analytics_salt: SaltRow
  mortar_analytics_batch: BatchRow
  mortar_analytics_state: StateRow
  mortar_analytics_daily: DailyRow
  mortar_analytics_top: DailyRow
  mortar_analytics_top_day: TopDayRow
  mortar_analytics_unit_item: UnitItemRow
  mortar_analytics_unit_stage: UnitItemRow
  mortar_analytics_pair: PairRow
  mortar_analytics_item: ItemRow
  mortar_analytics_also: AlsoRow
  mortar_analytics_stale_item: StaleItemRow
}
