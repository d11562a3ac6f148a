import { CompiledQuery, type Kysely } from 'kysely'
import {
  ACTOR_JOIN,
  ACTOR_SQL,
  EVENTS_FROM,
  Params,
  type PendingBatch,
  type QueryScope,
  batchWindows,
  pendingBatches,
  run,
  scalarText,
} from '../queries/query-scope.js'
import { addCounts, deleteKeys, insertMissing } from '../storage/bulk-sql.js'
import {
  BATCH_TABLE,
  DAILY_TABLE,
  type DbInt,
  EVENT_TABLE,
  ITEM_TABLE,
  PAIR_TABLE,
  STATE_TABLE,
  SUPPRESSED_TABLE,
  TOP_DAY_TABLE,
  TOP_TABLE,
  UNIT_ITEM_TABLE,
} from '../storage/analytics-tables.js'
import { DayCache } from '../time/zoned-time.js'
import type { ItemKind, RollupPlan } from './rollup-config.js'

/** What one `rollup()` did. */
export interface RollupReport {
  /** Batches folded in. */
  readonly batches: number
  /** Events counted. */
  readonly events: number
}

/** An event as the rollup reads it. */
export interface RollupEvent {
  readonly occurredAt: number
  readonly name: string
  readonly actor: string | null
  readonly userId: string | null
  readonly properties: Record<string, unknown>
}

const BATCHES_PER_TRANSACTION = 100

/**
 * Folds written batches into the rollups, incrementally: the batch log lists what was written
 * and not counted yet; each transaction takes up to 100 batches, adds their events to the daily
 * counts, refreshes the touched days' top lists, adds their item co-occurrences, and deletes
 * their log rows, all or nothing. So every event is counted once, however late it arrived, and
 * a crash mid-way leaves the batches to the next run. A lock row serialises runs with each other
 * and with `forgetUser`.
 */
export class Rollups {
  readonly #scope: QueryScope
  readonly #plan: RollupPlan

  constructor(scope: QueryScope, plan: RollupPlan) {
    this.#scope = scope
    this.#plan = plan
  }

  get plan(): RollupPlan {
    return this.#plan
  }

  /** Folds in every pending batch; returns how many batches and events. */
  async run(): Promise<RollupReport> {
    let batches = 0
    let events = 0
    for (;;) {
      const step = await this.#scope.db.transaction().execute(async (trx) => {
        const scope = { ...this.#scope, db: trx as Kysely<unknown> }
        await lockRollups(scope)
        const pending = await pendingBatches(scope, BATCHES_PER_TRANSACTION)
        if (pending.length === 0) return undefined
        const counted = await this.#fold(scope, pending)
        await deleteKeys(
          scope.db,
          scope.engine,
          BATCH_TABLE,
          ['batch_id'],
          pending.map((batch) => [batch.id]),
        )
        return { batches: pending.length, events: counted }
      })
      if (step === undefined) return { batches, events }
      batches += step.batches
      events += step.events
    }
  }

  async #fold(scope: QueryScope, pending: readonly PendingBatch[]): Promise<number> {
    const events = await readBatchEvents(scope, pending)
    const suppressed = await suppressedAmong(scope, events)
    const kept =
      suppressed.size === 0 ? events : events.filter((e) => !suppressed.has(e.userId ?? ''))
    if (kept.length < events.length) {
      // A forgotten user's events that a process wrote before it learnt of the suppression.
      const params = new Params()
      await run(
        scope,
        `delete from ${EVENT_TABLE} where user_id in ${params.list([...suppressed])}`,
        params,
      )
    }
    await applyContributions(scope, this.#plan, kept, 1)
    return kept.length
  }
}

/** Takes the rollup lock: runs and forgetUser wait for each other. */
export async function lockRollups(scope: QueryScope): Promise<void> {
  if (scope.engine === 'sqlite') return // BEGIN IMMEDIATE already serialises writers.
  await scope.db.executeQuery(
    CompiledQuery.raw(`select value from ${STATE_TABLE} where name = 'rollup' for update`, []),
  )
}

/** The events of the given batches, with their actor resolved through identity links. */
async function readBatchEvents(
  scope: QueryScope,
  pending: readonly PendingBatch[],
): Promise<RollupEvent[]> {
  const events: RollupEvent[] = []
  for (const window of batchWindows(pending)) {
    const params = new Params()
    const rows = await run<{
      occurred_at: DbInt
      name: string
      actor: string | null
      user_id: string | null
      properties: string | Record<string, unknown>
    }>(
      scope,
      `select e.occurred_at, e.name, ${ACTOR_SQL} as actor, e.user_id, e.properties from ${EVENTS_FROM} ${ACTOR_JOIN} where e.occurred_at >= ${params.add(window.first)} and e.occurred_at <= ${params.add(window.last)} and e.batch_id in ${params.list(window.ids)}`,
      params,
    )
    for (const row of rows) {
      events.push({
        occurredAt: Number(row.occurred_at),
        name: row.name,
        actor: row.actor,
        userId: row.user_id,
        properties:
          typeof row.properties === 'string'
            ? (JSON.parse(row.properties) as Record<string, unknown>)
            : row.properties,
      })
    }
  }
  return events
}

async function suppressedAmong(
  scope: QueryScope,
  events: readonly RollupEvent[],
): Promise<Set<string>> {
  const users = [...new Set(events.map((e) => e.userId).filter((id): id is string => id !== null))]
  const found = new Set<string>()
  for (let start = 0; start < users.length; start += 500) {
    const params = new Params()
    const rows = await run<{ user_id: string }>(
      scope,
      `select user_id from ${SUPPRESSED_TABLE} where user_id in ${params.list(users.slice(start, start + 500))}`,
      params,
    )
    for (const row of rows) found.add(row.user_id)
  }
  return found
}

/**
 * Adds (`sign` 1) or removes (`sign` -1, for forgetUser) the contributions of `events` to the
 * daily counts and top lists; adding also records item co-occurrences (removal of those goes
 * through {@link removeUnits}).
 */
export async function applyContributions(
  scope: QueryScope,
  plan: RollupPlan,
  events: readonly RollupEvent[],
  sign: 1 | -1,
): Promise<void> {
  if (events.length === 0) return
  const days = new DayCache(plan.timeZone)
  const daily = new Map<string, [string, string, string, string, number]>()
  const add = (name: string, key: string, day: string, value: string) => {
    const id = `${name}\0${key}\0${day}\0${value}`
    const row = daily.get(id)
    if (row === undefined) daily.set(id, [name, key, day, value, sign])
    else row[4] += sign
  }
  for (const event of events) {
    const day = days.dayOf(event.occurredAt)
    add(event.name, '', day, '')
    for (const key of plan.counts.get(event.name) ?? []) {
      const value = scalarText(event.properties[key])
      if (value !== undefined) add(event.name, key, day, value)
    }
  }
  await addCounts(scope.db, scope.engine, DAILY_TABLE, ['name', 'prop', 'day', 'value'], 'count', [
    ...daily.values(),
  ])
  if (sign < 0) {
    await scope.db.executeQuery(
      CompiledQuery.raw(`delete from ${DAILY_TABLE} where count <= 0`, []),
    )
  }
  const touched = new Map<string, [string, string, string]>()
  for (const [name, key, day] of daily.values()) {
    if (key !== '') touched.set(`${name}\0${key}\0${day}`, [name, key, day])
  }
  for (const [name, key, day] of touched.values()) await refreshTop(scope, plan, name, key, day)
  if (sign > 0) {
    for (const [kind, source] of plan.items) {
      await addCooccurrences(scope, plan, kind, source, days, events)
    }
  }
}

/** Rebuilds one day's top list of a key from its daily counts. */
async function refreshTop(
  scope: QueryScope,
  plan: RollupPlan,
  name: string,
  key: string,
  day: string,
): Promise<void> {
  const params = new Params()
  const rows = await run<{ value: string; count: DbInt }>(
    scope,
    `select value, count from ${DAILY_TABLE} where name = ${params.add(name)} and prop = ${params.add(key)} and day = ${params.add(day)} order by count desc, value limit ${plan.topSize + 1}`,
    params,
  )
  const kept = rows.slice(0, plan.topSize)
  // Any value not kept has at most the count of the first one left out.
  const threshold = rows.length > plan.topSize ? Number(rows[plan.topSize]?.count) : 0
  const where = new Params()
  await run(
    scope,
    `delete from ${TOP_TABLE} where name = ${where.add(name)} and prop = ${where.add(key)} and day = ${where.add(day)}`,
    where,
  )
  await insertMissing(
    scope.db,
    scope.engine,
    TOP_TABLE,
    ['name', 'prop', 'day', 'value', 'count'],
    ['name', 'prop', 'day', 'value'],
    kept.map((row) => [name, key, day, row.value, Number(row.count)]),
  )
  const meta = new Params()
  await run(
    scope,
    `delete from ${TOP_DAY_TABLE} where name = ${meta.add(name)} and prop = ${meta.add(key)} and day = ${meta.add(day)}`,
    meta,
  )
  if (kept.length > 0) {
    await insertMissing(
      scope.db,
      scope.engine,
      TOP_DAY_TABLE,
      ['name', 'prop', 'day', 'threshold'],
      ['name', 'prop', 'day'],
      [[name, key, day, threshold]],
    )
  }
}

/** The items an event names for a recommendation kind. */
export function itemsOf(
  source: { readonly key: string; readonly list: boolean },
  properties: Record<string, unknown>,
): string[] {
  const raw = properties[source.key]
  const values = source.list ? (Array.isArray(raw) ? raw : []) : [raw]
  const items: string[] = []
  for (const value of values) {
    const text = scalarText(value)
    if (text !== undefined && text !== '') items.push(text)
  }
  return items
}

/** The unit of co-occurrence an event belongs to: a local day of views, or all purchases. */
export function unitOf(kind: ItemKind, day: string): string {
  return kind === 'viewed' ? day : ''
}

async function addCooccurrences(
  scope: QueryScope,
  plan: RollupPlan,
  kind: ItemKind,
  source: { readonly event: string; readonly key: string; readonly list: boolean },
  days: DayCache,
  events: readonly RollupEvent[],
): Promise<void> {
  const triples: [string, string, string][] = []
  for (const event of events) {
    if (event.name !== source.event || event.actor === null) continue
    const unit = unitOf(kind, days.dayOf(event.occurredAt))
    for (const item of itemsOf(source, event.properties)) triples.push([event.actor, unit, item])
  }
  if (triples.length === 0) return
  const units = new Map<string, Set<string>>()
  const actors = [...new Set(triples.map(([actor]) => actor))]
  for (let start = 0; start < actors.length; start += 500) {
    const params = new Params()
    const rows = await run<{ actor: string; unit: string; item: string }>(
      scope,
      `select actor, unit, item from ${UNIT_ITEM_TABLE} where kind = ${params.add(kind)} and actor in ${params.list(actors.slice(start, start + 500))}`,
      params,
    )
    for (const row of rows) {
      const id = `${row.actor}\0${row.unit}`
      const set = units.get(id) ?? new Set<string>()
      units.set(id, set)
      set.add(row.item)
    }
  }
  const pairs = new Map<string, [string, string, string, number]>()
  const itemCounts = new Map<string, [string, string, number]>()
  const newRows: [string, string, string, string][] = []
  for (const [actor, unit, item] of triples) {
    const id = `${actor}\0${unit}`
    const set = units.get(id) ?? new Set<string>()
    units.set(id, set)
    if (set.has(item) || set.size >= plan.unitCap) continue
    for (const other of set) {
      for (const [a, b] of [
        [item, other],
        [other, item],
      ] as const) {
        const key = `${a}\0${b}`
        const pair = pairs.get(key)
        if (pair === undefined) pairs.set(key, [kind, a, b, 1])
        else pair[3]++
      }
    }
    const counted = itemCounts.get(item)
    if (counted === undefined) itemCounts.set(item, [kind, item, 1])
    else counted[2]++
    set.add(item)
    newRows.push([kind, actor, unit, item])
  }
  await insertMissing(
    scope.db,
    scope.engine,
    UNIT_ITEM_TABLE,
    ['kind', 'actor', 'unit', 'item'],
    ['kind', 'actor', 'unit', 'item'],
    newRows,
  )
  await addCounts(scope.db, scope.engine, PAIR_TABLE, ['kind', 'item', 'other'], 'count', [
    ...pairs.values(),
  ])
  await addCounts(scope.db, scope.engine, ITEM_TABLE, ['kind', 'item'], 'units', [
    ...itemCounts.values(),
  ])
}

/**
 * Removes the co-occurrence contributions of some actors (forgetUser): each of their units
 * takes back its pairs and item counts, and its rows go.
 */
export async function removeUnits(scope: QueryScope, actors: readonly string[]): Promise<void> {
  if (actors.length === 0) return
  const params = new Params()
  const rows = await run<{ kind: ItemKind; actor: string; unit: string; item: string }>(
    scope,
    `select kind, actor, unit, item from ${UNIT_ITEM_TABLE} where actor in ${params.list(actors)}`,
    params,
  )
  const units = new Map<string, { kind: string; items: string[] }>()
  for (const row of rows) {
    const id = `${row.kind}\0${row.actor}\0${row.unit}`
    const unit = units.get(id) ?? { kind: row.kind, items: [] }
    units.set(id, unit)
    unit.items.push(row.item)
  }
  const pairs = new Map<string, [string, string, string, number]>()
  const items = new Map<string, [string, string, number]>()
  for (const { kind, items: list } of units.values()) {
    for (const item of list) {
      const key = `${kind}\0${item}`
      const counted = items.get(key)
      if (counted === undefined) items.set(key, [kind, item, -1])
      else counted[2]--
      for (const other of list) {
        if (other === item) continue
        const pairKey = `${kind}\0${item}\0${other}`
        const pair = pairs.get(pairKey)
        if (pair === undefined) pairs.set(pairKey, [kind, item, other, -1])
        else pair[3]--
      }
    }
  }
  await addCounts(scope.db, scope.engine, PAIR_TABLE, ['kind', 'item', 'other'], 'count', [
    ...pairs.values(),
  ])
  await addCounts(scope.db, scope.engine, ITEM_TABLE, ['kind', 'item'], 'units', [
    ...items.values(),
  ])
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${PAIR_TABLE} where count <= 0`, []))
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${ITEM_TABLE} where units <= 0`, []))
  const remove = new Params()
  await run(scope, `delete from ${UNIT_ITEM_TABLE} where actor in ${remove.list(actors)}`, remove)
}
