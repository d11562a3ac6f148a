import { CompiledQuery, type Kysely } from 'kysely'
import {
  EVENTS_FROM,
  compile,
  Params,
  type PendingBatch,
  type QueryScope,
  pendingBatches,
  pendingFilter,
  propertySql,
  run,
} from '../queries/query-scope.js'
import { addCounts, deleteKeys, idChunks } from '../storage/bulk-sql.js'
import {
  BATCH_TABLE,
  DAILY_TABLE,
  type DbInt,
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
  STATE_TABLE,
  SUPPRESSED_TABLE,
  TOP_DAY_TABLE,
  TOP_TABLE,
  UNIT_ITEM_TABLE,
} from '../storage/analytics-tables.js'
import { addCooccurrences, unitCandidates } from './cooccurrence-units.js'
import type { EventFilter, EventSpan } from './event-filter.js'
import { rebuildMergedUnits } from './legacy-units.js'
import { relinkUnits } from './linked-units.js'
import { parsePlanRecord, planRecord, readPlanRecord } from './recorded-plan.js'
import type { RollupPlan } from './rollup-config.js'
import { dayNumber, dayNumberSql, dayText, dayTextSql } from './rollup-sql.js'
import { selectLiteral, upsertSelect } from './upsert-select.js'

/** What one `rollup()` did. */
export interface RollupReport {
  /** Batches folded in. */
  readonly batches: number
  /** Events counted. */
  readonly events: number
}

const BATCHES_PER_TRANSACTION = 100

/**
 * Folds written batches into the rollups, incrementally and set-based: the batch log lists what
 * was written and not counted yet; each transaction takes up to 100 batches and, in a few
 * `INSERT … SELECT … GROUP BY` upserts that the database runs over those batches' events, adds
 * them to the daily counts, refreshes the touched days' top lists, adds their item
 * co-occurrences, and deletes their log rows, all or nothing. So every event is counted once,
 * however late it arrived, and a crash mid-way leaves the batches to the next run. A lock row
 * serialises runs with each other and with `forgetUser`.
 */
export class Rollups {
  readonly #scope: QueryScope
  readonly #plan: RollupPlan
  #flushesStats: boolean | undefined

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
      const step = await rollupTransaction(this.#scope).execute(async (trx) => {
        const scope = { ...this.#scope, db: trx as Kysely<unknown> }
        await lockRollups(scope)
        await reconcilePlan(scope, this.#plan)
        await rebuildMergedUnits(scope, this.#plan)
        const pending = await pendingBatches(scope, BATCHES_PER_TRANSACTION)
        if (pending.length === 0) return undefined
        const counted = await fold(scope, this.#plan, pending)
        await deleteKeys(
          scope.db,
          scope.engine,
          BATCH_TABLE,
          ['batch_id'],
          pending.map((batch) => [batch.id]),
        )
        // The dead rows this run left reach pg_stat_user_tables as it commits (not a second
        // later), so the vacuum check after the schedule (see reclaimTables) counts them.
        this.#flushesStats ??= await flushesStats(scope)
        if (this.#flushesStats) {
          await scope.db.executeQuery(CompiledQuery.raw('select pg_stat_force_next_flush()', []))
        }
        return { batches: pending.length, events: counted }
      })
      if (step === undefined) return { batches, events }
      batches += step.batches
      events += step.events
    }
  }
}

/**
 * A transaction of the rollup or `forgetUser`: on MariaDB at READ COMMITTED. At REPEATABLE READ
 * an `INSERT … SELECT` share-locks every event key and gap it reads, so each batch write whose
 * events fell in the span a run folded (the present, a late flush) waited for the whole run, and
 * one that held a batch-log row the run deleted deadlocked with it. At READ COMMITTED InnoDB reads
 * them as a consistent read and locks none. The same rows are read: a logged batch's events
 * change only in their own write or under the rollup lock, and batch writes wait for forgetUser
 * on the suppression row.
 */
export function rollupTransaction(scope: QueryScope) {
  const builder = scope.db.transaction()
  return scope.engine === 'mysql' ? builder.setIsolationLevel('read committed') : builder
}

/** Whether the server has `pg_stat_force_next_flush()`: PostgreSQL 15 or later. */
async function flushesStats(scope: QueryScope): Promise<boolean> {
  if (scope.engine !== 'postgres') return false
  const [row] = await run<{ version: DbInt }>(
    scope,
    `select current_setting('server_version_num')::int as version`,
    new Params(),
  )
  return Number(row?.version) >= 150_000
}

/** Takes the rollup lock: runs and forgetUser wait for each other. */
export async function lockRollups(scope: QueryScope): Promise<void> {
  if (scope.engine === 'sqlite') return // BEGIN IMMEDIATE already serialises writers.
  await scope.db.executeQuery(
    CompiledQuery.raw(`select value from ${STATE_TABLE} where name = 'rollup' for update`, []),
  )
}

async function fold(
  scope: QueryScope,
  plan: RollupPlan,
  pending: readonly PendingBatch[],
): Promise<number> {
  const filter: EventFilter = (params) =>
    pendingFilter(pending, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, params) ?? 'false'
  const span: EventSpan = {
    first: Math.min(...pending.map((batch) => batch.first)),
    last: Math.max(...pending.map((batch) => batch.last)),
  }
  let counted = pending.reduce((sum, batch) => sum + batch.events, 0)
  const [anySuppressed] = await run(
    scope,
    `select 1 as one from ${SUPPRESSED_TABLE} limit 1`,
    new Params(),
  )
  if (anySuppressed !== undefined) {
    // A forgotten user's events that a process wrote before it learnt of the suppression.
    const find = new Params()
    const suppressed = await run<{ user_id: string }>(
      scope,
      `select distinct e.user_id from ${EVENTS_FROM} join ${SUPPRESSED_TABLE} s on s.user_id = e.user_id where ${filter(find)}`,
      find,
    )
    for (const chunk of idChunks(suppressed.map((row) => row.user_id))) {
      const params = new Params()
      const removed = await scope.db.executeQuery(
        compile(
          scope.engine,
          `delete from ${EVENT_TABLE} where user_id in ${params.list(chunk)}`,
          params,
        ),
      )
      counted -= Number(removed.numAffectedRows ?? 0n)
      // The links such a batch wrote came with its events (identify, alias): tie no visitor to them.
      const links = new Params()
      await scope.db.executeQuery(
        compile(
          scope.engine,
          `delete from ${IDENTITY_TABLE} where user_id in ${links.list(chunk)}`,
          links,
        ),
      )
    }
    // Failed events keep their properties and may come in batches with no event to fold: any of
    // a forgotten user's goes. The table holds only what failed, so this stays small.
    await scope.db.executeQuery(
      CompiledQuery.raw(
        `delete from ${FAILED_TABLE} where user_id in (select user_id from ${SUPPRESSED_TABLE})`,
        [],
      ),
    )
  }
  await addDailyCounts(scope, plan, [filter], span, 1)
  // The links these batches brought, once a forgotten user's are gone: the tracker writes each
  // in the batch of its user's `$identify` or `$alias` event. (A link a sink's caller wrote
  // with no event of its user is applied at the next retention.)
  await relinkUnits(
    scope,
    plan,
    (params) =>
      `l.user_id in (select e.user_id from ${EVENTS_FROM} where e.user_id is not null and ${filter(params)})`,
  )
  for (const [kind, source] of plan.items) {
    await addCooccurrences(scope, plan, kind, source, filter, span)
  }
  return Math.max(0, counted)
}

/**
 * Adds (`sign` 1) or removes (`sign` -1, for forgetUser) the events the filters select to or
 * from the daily counts, then rebuilds the top lists of the days touched. The filters must
 * select disjoint events: forgetUser passes the user's and each slice of their anonymous ids.
 */
export async function addDailyCounts(
  scope: QueryScope,
  plan: RollupPlan,
  filters: readonly EventFilter[],
  span: EventSpan,
  sign: 1 | -1,
  totals = true,
): Promise<void> {
  const { engine } = scope
  const day = dayNumberSql(engine, 'e.occurred_at', plan.timeZone, span.first, span.last)
  const columns = ['name', 'prop', 'day', 'value', 'count']
  const keys = ['name', 'prop', 'day', 'value']
  for (const filter of filters) {
    if (totals) {
      const params = new Params()
      await upsertSelect(
        scope,
        DAILY_TABLE,
        columns,
        keys,
        `select x.name, '' as prop, ${dayTextSql(engine, 'x.d')} as day, '' as value, ${sign} * count(*) as n from (select e.name, ${day} as d from ${EVENTS_FROM} where ${filter(params)}) x group by x.name, x.d`,
        params,
      )
    }
    for (const [name, props] of plan.counts) {
      for (const prop of props) {
        const params = new Params()
        await upsertSelect(
          scope,
          DAILY_TABLE,
          columns,
          keys,
          `select ${selectLiteral(engine, params.add(name))} as name, ${selectLiteral(engine, params.add(prop))} as prop, ${dayTextSql(engine, 'x.d')} as day, x.v as value, ${sign} * count(*) as n from (select ${day} as d, ${propertySql(engine, prop, params)} as v from ${EVENTS_FROM} where e.name = ${params.add(name)} and ${filter(params)}) x where x.v is not null group by x.d, x.v`,
          params,
        )
      }
    }
  }
  if (sign < 0) {
    await scope.db.executeQuery(
      CompiledQuery.raw(`delete from ${DAILY_TABLE} where count <= 0`, []),
    )
  }
  if (plan.counts.size === 0) return
  const touched = await touchedDays(scope, plan, filters, span, day)
  for (const [name, days] of touched) {
    for (const prop of plan.counts.get(name) ?? []) {
      for (const d of days) await refreshTop(scope, plan, name, prop, dayText(d))
    }
  }
}

/**
 * Brings the daily counts to `plan` when they were built under another (see
 * {@link RecordedPlan}), then records it: the keys it counts that the record does not (every
 * one, and the day totals, when the time zone changed) are counted again from the events
 * stored and already folded in, from the local day of the first of them on, and their top
 * lists rebuilt. Days before that keep what they had: retention deleted their events.
 */
export async function reconcilePlan(scope: QueryScope, plan: RollupPlan): Promise<void> {
  const record = planRecord(plan)
  const stored = await readPlanRecord(scope)
  if (stored === record) return
  const recorded = parsePlanRecord(stored)
  if (recorded !== undefined) {
    const totals = recorded.timeZone !== plan.timeZone
    const recount = new Map<string, readonly string[]>()
    for (const [name, keys] of plan.counts) {
      const had = totals || !Object.hasOwn(recorded.counts, name) ? [] : recorded.counts[name]
      const added = keys.filter((key) => !had?.includes(key))
      if (added.length > 0) recount.set(name, added)
    }
    if (totals || recount.size > 0) await recountFolded(scope, plan, recount, totals)
  }
  const update = new Params()
  await run(
    scope,
    `update ${STATE_TABLE} set value = ${update.add(record)} where name = 'rollup'`,
    update,
  )
}

async function recountFolded(
  scope: QueryScope,
  plan: RollupPlan,
  recount: ReadonlyMap<string, readonly string[]>,
  totals: boolean,
): Promise<void> {
  const folded: EventFilter = () =>
    `not exists (select 1 from ${BATCH_TABLE} b where b.batch_id = e.batch_id)`
  const [span] = await run<{ first: DbInt | null; last: DbInt | null }>(
    scope,
    `select min(e.occurred_at) as first, max(e.occurred_at) as last from ${EVENTS_FROM} where ${folded(new Params())}`,
    new Params(),
  )
  if (span?.first == null || span.last == null) return
  const fromDay = dayText(dayNumber(Number(span.first), plan.timeZone))
  const cleared: [string, string, string][] = []
  if (totals) cleared.push([DAILY_TABLE, '', ''])
  for (const [name, keys] of recount) {
    for (const key of keys) {
      for (const table of [DAILY_TABLE, TOP_TABLE, TOP_DAY_TABLE]) cleared.push([table, name, key])
    }
  }
  for (const [table, name, key] of cleared) {
    const params = new Params()
    const byName = name === '' ? '' : `name = ${params.add(name)} and `
    await run(
      scope,
      `delete from ${table} where ${byName}prop = ${params.add(key)} and day >= ${params.add(fromDay)}`,
      params,
    )
  }
  await addDailyCounts(
    scope,
    { ...plan, counts: recount },
    [folded],
    { first: Number(span.first), last: Number(span.last) },
    1,
    totals,
  )
}

const MAX_SPAN_DAYS = 31

/**
 * The local days (as day numbers) per counted event whose top lists may have changed: every
 * day of a span up to a month (rebuilding an unchanged list is harmless and cheaper than a
 * scan), else the days the events fall on.
 */
async function touchedDays(
  scope: QueryScope,
  plan: RollupPlan,
  filters: readonly EventFilter[],
  span: EventSpan,
  day: string,
): Promise<Map<string, number[]>> {
  const firstDay = dayNumber(span.first, plan.timeZone)
  const lastDay = dayNumber(span.last, plan.timeZone)
  const touched = new Map<string, number[]>()
  if (lastDay - firstDay < MAX_SPAN_DAYS) {
    const days: number[] = []
    for (let d = firstDay; d <= lastDay; d++) days.push(d)
    for (const name of plan.counts.keys()) touched.set(name, days)
    return touched
  }
  const found = new Map<string, Set<number>>()
  for (const filter of filters) {
    const params = new Params()
    const rows = await run<{ name: string; d: DbInt }>(
      scope,
      `select distinct e.name, ${day} as d from ${EVENTS_FROM} where e.name in ${params.list([...plan.counts.keys()])} and ${filter(params)}`,
      params,
    )
    for (const row of rows) {
      const days = found.get(row.name) ?? new Set<number>()
      found.set(row.name, days)
      days.add(Number(row.d))
    }
  }
  for (const [name, days] of found) touched.set(name, [...days])
  return touched
}

/**
 * Brings one day's top list of a key up to date with its daily counts, writing only the rows
 * that changed: a list rewritten whole on every run left a dead row version per entry on
 * PostgreSQL (100 per day touched, each minute), which only a vacuum reclaims.
 */
async function refreshTop(
  scope: QueryScope,
  plan: RollupPlan,
  name: string,
  key: string,
  day: string,
): Promise<void> {
  const read = new Params()
  const rows = await run<{ value: string; count: DbInt }>(
    scope,
    `select value, count from ${DAILY_TABLE} where name = ${read.add(name)} and prop = ${read.add(key)} and day = ${read.add(day)} order by count desc, value limit ${plan.topSize + 1}`,
    read,
  )
  const kept = rows.slice(0, plan.topSize)
  // Any value not kept has at most the count of the first one left out.
  const threshold = rows.length > plan.topSize ? Number(rows[plan.topSize]?.count) : 0
  const listed = new Params()
  const current = await run<{ value: string; count: DbInt }>(
    scope,
    `select value, count from ${TOP_TABLE} where name = ${listed.add(name)} and prop = ${listed.add(key)} and day = ${listed.add(day)}`,
    listed,
  )
  const before = new Map(current.map((row) => [row.value, Number(row.count)]))
  const changes: [string, string, string, string, number][] = []
  for (const row of kept) {
    const count = Number(row.count)
    const had = before.get(row.value) ?? 0
    if (count !== had) changes.push([name, key, day, row.value, count - had])
    before.delete(row.value)
  }
  await deleteKeys(
    scope.db,
    scope.engine,
    TOP_TABLE,
    ['name', 'prop', 'day', 'value'],
    [...before.keys()].map((value) => [name, key, day, value]),
  )
  await addCounts(
    scope.db,
    scope.engine,
    TOP_TABLE,
    ['name', 'prop', 'day', 'value'],
    'count',
    changes,
  )
  const meta = new Params()
  const [stored] = await run<{ threshold: DbInt }>(
    scope,
    `select threshold from ${TOP_DAY_TABLE} where name = ${meta.add(name)} and prop = ${meta.add(key)} and day = ${meta.add(day)}`,
    meta,
  )
  const keys = [[name, key, day]]
  if (kept.length === 0) {
    if (stored !== undefined) {
      await deleteKeys(scope.db, scope.engine, TOP_DAY_TABLE, ['name', 'prop', 'day'], keys)
    }
  } else if (stored === undefined || Number(stored.threshold) !== threshold) {
    await addCounts(scope.db, scope.engine, TOP_DAY_TABLE, ['name', 'prop', 'day'], 'threshold', [
      [name, key, day, threshold - Number(stored?.threshold ?? 0)],
    ])
  }
}

/**
 * Retention of the unit rows, which tie a person to the items they viewed or bought: deletes
 * those older than `before`, returning how many. A day of views goes once the whole local day
 * is before the cut. A purchase row carries no time: it goes once no stored event of that
 * person (as the links stored now say, so units of anonymous ids linked since are moved to
 * their users first) buying that item is left (retention deleted them all), or when purchases are no longer
 * rolled up. Pairs, audiences and ranked lists keep their counts, as the daily counts do: they
 * name no one. Under the rollup lock, so no run adds a row meanwhile that this then deletes.
 */
export async function purgeUnitsBefore(
  scope: QueryScope,
  plan: RollupPlan,
  before: number,
): Promise<number> {
  return rollupTransaction(scope).execute(async (trx) => {
    const tx: QueryScope = { ...scope, db: trx as Kysely<unknown> }
    await lockRollups(tx)
    await rebuildMergedUnits(tx, plan)
    // A unit of an anonymous id linked since is the user's, and backed by the events read as
    // theirs. One left under the anonymous id (its link, to a forgotten user, goes at the next
    // fold) is backed by the visitor's events, whatever their link.
    await relinkUnits(tx, plan)
    const days = new Params()
    const viewed = await tx.db.executeQuery(
      compile(
        tx.engine,
        `delete from ${UNIT_ITEM_TABLE} where unit <> '' and unit < ${days.add(dayText(dayNumber(before, plan.timeZone)))}`,
        days,
      ),
    )
    let deleted = Number(viewed.numAffectedRows ?? 0n)
    const source = plan.items.get('bought')
    const find = new Params()
    const backed =
      source === undefined
        ? ''
        : ` and not exists (select 1 from (${unitCandidates(tx, plan, 'bought', source, () => '1 = 1', { first: 0, last: 0 }, find)}) c where (c.actor = u.actor or c.visitor = u.actor) and c.item = u.item)`
    // Read, then deleted by key: MariaDB cannot delete from a table a subquery of it reads.
    const unbacked = await run<{ kind: string; actor: string; unit: string; item: string }>(
      tx,
      `select u.kind, u.actor, u.unit, u.item from ${UNIT_ITEM_TABLE} u where u.unit = ''${backed}`,
      find,
    )
    deleted += await deleteKeys(
      tx.db,
      tx.engine,
      UNIT_ITEM_TABLE,
      ['kind', 'actor', 'unit', 'item'],
      unbacked.map((row) => [row.kind, row.actor, row.unit, row.item]),
    )
    return deleted
  })
}
