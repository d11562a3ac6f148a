import type { DatabaseEngine } from '@mortar/core'
import type { Kysely } from 'kysely'
import { AnalyticsQueryError } from '../errors.js'
import type { RollupPlan } from '../rollups/rollup-config.js'
import { countsAnswer, recordedPlan } from '../rollups/recorded-plan.js'
import { DAILY_TABLE, type DbInt, TOP_DAY_TABLE, TOP_TABLE } from '../storage/analytics-tables.js'
import { dayNumber, dayNumberSql, weekNumber, weekNumberSql } from '../rollups/rollup-sql.js'
import { localDay, nextStart, periodBounds } from '../time/zoned-time.js'
import { type FoldEvent, foldFunnel, foldRetention, type RetentionRow } from './folds.js'
import { HAS_PERSON_SQL, personKeySql } from './person-key.js'
import {
  ACTOR_JOIN,
  boundedList,
  compareCodePoints,
  describeArgument,
  EVENTS_FROM,
  mysqlExactText,
  nameArgument,
  Params,
  type PendingBatch,
  type QueryScope,
  pendingBatches,
  pendingFilter,
  propertySql,
  rangeMs,
  run,
  scalarText,
  stream,
} from './query-scope.js'

/** One bucket of a time series. */
export interface SeriesPoint {
  /** The start of the local hour or day. */
  readonly start: Date
  readonly count: number
}

/** One value of a top list. */
export interface TopValue {
  readonly value: string
  readonly count: number
}

/** One step of a funnel's answer. */
export interface FunnelStepResult {
  readonly event: string
  /** People who reached this step. */
  readonly count: number
  /** `count` over the first step's count (1 for the first step, 0 when nobody started). */
  readonly conversion: number
}

/** One cohort of a retention answer. */
export interface RetentionCohort {
  /** The start of the cohort's local day or week. */
  readonly start: Date
  /** People whose first cohort event fell in this period. */
  readonly size: number
  /** `returned[k]` for k = 1..periods: how many of them came back in the k-th period after; `returned[0]` is the size. */
  readonly returned: readonly number[]
}

/** Engaged time on one path. */
export interface PageDwell {
  readonly path: string
  readonly views: number
  readonly engagedMs: number
  /** `engagedMs / views`, rounded to the millisecond. */
  readonly averageMs: number
}

/** A raw step as the queries take it (the typed facade narrows these). */
export interface StepSpec {
  readonly event: string
  readonly where?: Readonly<Record<string, unknown>>
}

/** The slot events are counted by in SQL: a quarter hour, when every period is made of whole ones. */
const SLOT = 900_000

/**
 * The answers, on the app database. Each reads the rollups where they answer it exactly (daily
 * buckets in the rollup time zone, properties counted daily) plus the events of batches not
 * rolled up yet, in one snapshot; otherwise it scans the events. See each method for its
 * semantics; the README lists them all.
 */
export class AnalyticsQueries {
  readonly #scope: QueryScope
  readonly #plan: RollupPlan
  readonly #heartbeatMs: number

  constructor(scope: QueryScope, plan: RollupPlan, heartbeatMs: number) {
    this.#scope = scope
    this.#plan = plan
    this.#heartbeatMs = heartbeatMs
  }

  /** Runs `fn` in one snapshot: a rollup committing between two reads cannot count twice. */
  #snapshot<R>(fn: (scope: QueryScope) => Promise<R>): Promise<R> {
    if (this.#scope.db.isTransaction) return fn(this.#scope)
    let builder = this.#scope.db.transaction()
    if (this.#scope.engine !== 'sqlite') builder = builder.setIsolationLevel('repeatable read')
    return builder.execute((trx) => fn({ ...this.#scope, db: trx as Kysely<unknown> }))
  }

  async series(
    event: string,
    options: {
      readonly from: Date
      readonly to: Date
      readonly interval?: 'hour' | 'day'
      readonly timeZone?: string
      readonly where?: Readonly<Record<string, unknown>>
    },
  ): Promise<SeriesPoint[]> {
    nameArgument('The event', event)
    const { from, to } = rangeMs(options)
    const interval = options.interval ?? 'day'
    const timeZone = options.timeZone ?? this.#scope.timeZone
    const bounds = periodBounds(interval, from, to, timeZone)
    const filter = whereEntries(options.where)
    const key = this.#rolledKey(event, filter)
    const aligned = bounds[0] === from && bounds.at(-1) === to
    if (interval === 'day' && timeZone === this.#plan.timeZone && aligned && key !== undefined) {
      const answer = await this.#snapshot(async (scope) => {
        const recorded = await recordedPlan(scope)
        if (!countsAnswer(recorded, this.#plan, event, key.key === '' ? undefined : key.key)) {
          return undefined
        }
        const counts = new Array<number>(bounds.length - 1).fill(0)
        const days = bounds.slice(0, -1).map((start) => localDay(start, timeZone))
        const params = new Params()
        const rows = await run<{ day: string; n: DbInt }>(
          scope,
          `select day, sum(count) as n from ${DAILY_TABLE} where name = ${params.add(event)} and prop = ${params.add(key.key)} and value = ${params.add(key.value)} and day >= ${params.add(days[0] as string)} and day <= ${params.add(days.at(-1) as string)} group by day`,
          params,
        )
        const index = new Map(days.map((day, i) => [day, i]))
        for (const row of rows) {
          const i = index.get(row.day)
          if (i !== undefined) counts[i] = (counts[i] as number) + Number(row.n)
        }
        const pending = await pendingBatches(scope)
        await this.#slotCounts(scope, event, filter, from, to, pending, bounds, counts)
        return points(bounds, counts)
      })
      // Built under other options (before the key was counted, or in another time zone): from
      // the events, until a rollup has rebuilt them.
      if (answer !== undefined) return answer
    }
    return this.rawSeries(event, { from, to, interval, timeZone, filter })
  }

  /** The series computed from the events alone (what the rollups must equal). */
  async rawSeries(
    event: string,
    options: {
      readonly from: number
      readonly to: number
      readonly interval: 'hour' | 'day'
      readonly timeZone: string
      readonly filter: readonly [string, string][]
    },
  ): Promise<SeriesPoint[]> {
    const bounds = periodBounds(options.interval, options.from, options.to, options.timeZone)
    const counts = new Array<number>(bounds.length - 1).fill(0)
    await this.#slotCounts(
      this.#scope,
      event,
      options.filter,
      options.from,
      options.to,
      undefined,
      bounds,
      counts,
    )
    return points(bounds, counts)
  }

  /**
   * Counts events per slot in SQL and folds them into the buckets; only pending batches when
   * given. Slots start at the first bucket's start and are a quarter hour, or less where a
   * bucket's bound is no whole number of quarter hours from it (see {@link slotSize}).
   */
  async #slotCounts(
    scope: QueryScope,
    event: string,
    filter: readonly [string, string][],
    from: number,
    to: number,
    pending: readonly PendingBatch[] | undefined,
    bounds: readonly number[],
    counts: number[],
  ): Promise<void> {
    const params = new Params()
    const origin = bounds[0] as number
    const size = slotSize(bounds)
    const slot =
      scope.engine === 'mysql'
        ? `(e.occurred_at - ${params.add(origin)}) div ${size}`
        : `(e.occurred_at - ${params.add(origin)}) / ${size}`
    const where = [`e.name = ${params.add(event)}`]
    if (pending === undefined) {
      where.push(`e.occurred_at >= ${params.add(from)}`, `e.occurred_at < ${params.add(to)}`)
    } else {
      const tail = pendingFilter(pending, from, to, params)
      if (tail === undefined) return
      where.push(tail)
    }
    for (const [key, value] of filter)
      where.push(`${propertySql(scope.engine, key, params)} = ${params.add(value)}`)
    const rows = await run<{ slot: DbInt; n: DbInt }>(
      scope,
      `select ${slot} as slot, count(*) as n from ${EVENTS_FROM} where ${where.join(' and ')} group by slot`,
      params,
    )
    for (const row of rows) {
      const start = origin + Number(row.slot) * size
      const i = bucketIndex(bounds, start)
      if (i >= 0) counts[i] = (counts[i] as number) + Number(row.n)
    }
  }

  async top(
    event: string,
    key: string,
    options: {
      readonly from: Date
      readonly to: Date
      readonly limit?: number
      readonly timeZone?: string
    },
  ): Promise<TopValue[]> {
    nameArgument('The event', event)
    nameArgument('The property key', key)
    const { from, to } = rangeMs(options)
    const limit = options.limit ?? 10
    if (!Number.isInteger(limit) || limit < 1 || limit > this.#plan.topSize) {
      throw new AnalyticsQueryError(
        `top() takes a limit from 1 to ${this.#plan.topSize}; got ${limit}.`,
      )
    }
    const timeZone = options.timeZone ?? this.#scope.timeZone
    const bounds = periodBounds('day', from, to, timeZone)
    const aligned = bounds[0] === from && bounds.at(-1) === to
    if (
      !(aligned && timeZone === this.#plan.timeZone && this.#plan.counts.get(event)?.includes(key))
    ) {
      return this.rawTop(event, key, { from, to, limit })
    }
    const days = bounds.slice(0, -1).map((start) => localDay(start, timeZone))
    const answer = await this.#snapshot(async (scope) => {
      if (!countsAnswer(await recordedPlan(scope), this.#plan, event, key)) return undefined
      const tail = await this.#tailValues(scope, event, key, from, to)
      const dayRange = (params: Params) =>
        `name = ${params.add(event)} and prop = ${params.add(key)} and day >= ${params.add(days[0] as string)} and day <= ${params.add(days.at(-1) as string)}`
      const listed = new Params()
      const candidates = await run<{ value: string }>(
        scope,
        `select distinct value from ${TOP_TABLE} where ${dayRange(listed)}`,
        listed,
      )
      const values = new Set([...candidates.map((row) => row.value), ...tail.keys()])
      const totals = new Map<string, number>(tail)
      const list = [...values]
      for (let start = 0; start < list.length; start += 500) {
        const params = new Params()
        const rows = await run<{ value: string; n: DbInt }>(
          scope,
          `select value, sum(count) as n from ${DAILY_TABLE} where ${dayRange(params)} and value in ${params.list(list.slice(start, start + 500))} group by value`,
          params,
        )
        for (const row of rows) totals.set(row.value, (totals.get(row.value) ?? 0) + Number(row.n))
      }
      const ranked = rank(totals, limit)
      const meta = new Params()
      const [threshold] = await run<{ n: DbInt | null }>(
        scope,
        `select sum(threshold) as n from ${TOP_DAY_TABLE} where ${dayRange(meta)}`,
        meta,
      )
      // A value in no day's list has at most the sum of the days' thresholds: when the last
      // value returned has more, the list is exact. Otherwise rank every value's daily sum in
      // SQL: the tail only adds, so a value outside the first `limit` by daily sum and not in
      // the tail (whose totals are known) ranks below all of them. Only `limit` rows come back.
      const bound = Number(threshold?.n ?? 0)
      const last = ranked.at(-1)
      if (ranked.length === limit ? (last?.count ?? 0) > bound : bound === 0) return ranked
      const params = new Params()
      const ordered = scope.engine === 'postgres' ? 'value collate "C"' : 'value'
      const rows = await run<{ value: string; n: DbInt }>(
        scope,
        `select value, sum(count) as n from ${DAILY_TABLE} where ${dayRange(params)} group by value order by n desc, ${ordered} limit ${params.add(limit)}`,
        params,
      )
      const all = new Map<string, number>()
      for (const row of rows) all.set(row.value, Number(row.n) + (tail.get(row.value) ?? 0))
      for (const value of tail.keys()) all.set(value, totals.get(value) ?? 0)
      return rank(all, limit)
    })
    // Built under other options: from the events, until a rollup has rebuilt them.
    return answer ?? this.rawTop(event, key, { from, to, limit })
  }

  async #tailValues(
    scope: QueryScope,
    event: string,
    key: string,
    from: number,
    to: number,
  ): Promise<Map<string, number>> {
    const totals = new Map<string, number>()
    const pending = await pendingBatches(scope)
    const params = new Params()
    const tail = pendingFilter(pending, from, to, params)
    if (tail === undefined) return totals
    const value = propertySql(scope.engine, key, params)
    const rows = await run<{ value: string | null; n: DbInt }>(
      scope,
      `select ${value} as value, count(*) as n from ${EVENTS_FROM} where e.name = ${params.add(event)} and ${tail} group by value`,
      params,
    )
    for (const row of rows) {
      const text = row.value === null ? undefined : scalarText(row.value)
      if (text !== undefined) totals.set(text, (totals.get(text) ?? 0) + Number(row.n))
    }
    return totals
  }

  /**
   * The top values computed from the events alone, ranked and cut in SQL: only `limit` rows come
   * back, however many distinct values the range holds (every search query, say).
   */
  async rawTop(
    event: string,
    key: string,
    options: { readonly from: number; readonly to: number; readonly limit: number },
  ): Promise<TopValue[]> {
    const engine = this.#scope.engine
    const params = new Params()
    const value = propertySql(engine, key, params)
    const ordered = engine === 'postgres' ? 'value collate "C"' : 'value'
    const rows = await run<{ value: string; n: DbInt }>(
      this.#scope,
      `select value, n from (select ${value} as value, count(*) as n from ${EVENTS_FROM} where e.name = ${params.add(event)} and e.occurred_at >= ${params.add(options.from)} and e.occurred_at < ${params.add(options.to)} group by value) t where value is not null order by n desc, ${ordered} limit ${params.add(options.limit)}`,
      params,
    )
    return rows.map((row) => ({ value: row.value, count: Number(row.n) }))
  }

  async uniques(
    events: readonly string[],
    options: { readonly from: Date; readonly to: Date },
  ): Promise<number> {
    if (!Array.isArray(events)) {
      throw new AnalyticsQueryError(
        `uniques() takes an array of event names; got ${describeArgument(events)}.`,
      )
    }
    for (const event of boundedList('The list of events', events)) nameArgument('The event', event)
    const { from, to } = rangeMs(options)
    const params = new Params()
    const names = events.length === 0 ? '' : ` and e.name in ${params.list(events)}`
    const [row] = await run<{ n: DbInt }>(
      this.#scope,
      `select count(distinct ${personKeySql(this.#scope.engine)}) as n from ${EVENTS_FROM} ${ACTOR_JOIN} where e.occurred_at >= ${params.add(from)} and e.occurred_at < ${params.add(to)}${names}`,
      params,
    )
    return Number(row?.n ?? 0)
  }

  async funnel(
    steps: readonly StepSpec[],
    options: { readonly from: Date; readonly to: Date; readonly windowMs: number },
  ): Promise<FunnelStepResult[]> {
    if (!Array.isArray(steps) || steps.length === 0) {
      throw new AnalyticsQueryError('A funnel needs an array of at least one step.')
    }
    for (const step of boundedList('A funnel', steps, MAX_FUNNEL_STEPS)) checkStep(step)
    const windowMs = options.windowMs
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new AnalyticsQueryError(
        'A funnel needs a positive windowMs (how long after step 1 the last step may come).',
      )
    }
    const { from, to } = rangeMs(options)
    const reached = await this.#funnelReached(steps, { from, to }, windowMs)
    const first = reached[0] ?? 0
    return steps.map((step, i) => ({
      event: step.event,
      count: reached[i] ?? 0,
      conversion: first === 0 ? 0 : (reached[i] ?? 0) / first,
    }))
  }

  /**
   * How many people reached each step. PostgreSQL and SQLite fold in SQL ({@link funnelSql}): one
   * row comes back, however many events match. MariaDB's window passes are several times slower
   * than its sort, so it streams the matches of {@link funnelRows} sorted by person, then
   * `(time, id)`, and folds one person at a time ({@link foldFunnel}): memory holds one row and
   * one person, not the range.
   */
  async #funnelReached(
    steps: readonly StepSpec[],
    range: { readonly from: number; readonly to: number },
    windowMs: number,
  ): Promise<number[]> {
    const engine = this.#scope.engine
    const params = new Params()
    if (engine !== 'mysql') {
      const [row] = await run<Record<string, DbInt | null>>(
        this.#scope,
        funnelSql(engine, steps, range, windowMs, params),
        params,
      )
      return steps.map((_, k) => Number(row?.[`s${k}`] ?? 0))
    }
    const rows = stream<Record<string, DbInt | string | null>>(
      this.#scope,
      `${funnelRows(engine, steps, range, windowMs, params)} order by actor, e.occurred_at, e.id`,
      params,
    )
    return foldFunnel(funnelEvents(rows, steps.length), steps.length, windowReach(windowMs))
  }

  async retention(options: {
    readonly cohort: StepSpec
    readonly returning: StepSpec
    readonly from: Date
    readonly to: Date
    readonly period?: 'day' | 'week'
    readonly periods: number
    readonly timeZone?: string
  }): Promise<RetentionCohort[]> {
    checkStep(options.cohort)
    checkStep(options.returning)
    const { from, to } = rangeMs(options)
    const period = options.period ?? 'day'
    if (period !== 'day' && period !== 'week') {
      throw new AnalyticsQueryError(
        `retention() counts by 'day' or 'week'; got ${describeArgument(period)}.`,
      )
    }
    const periods = options.periods
    if (!Number.isInteger(periods) || periods < 1 || periods > 366) {
      throw new AnalyticsQueryError(
        'retention() needs `periods`: how many periods after the cohort to count (1 to 366).',
      )
    }
    const timeZone = options.timeZone ?? this.#scope.timeZone
    const cohortBounds = periodBounds(period, from, to, timeZone)
    const cohorts = cohortBounds.length - 1
    const bounds = [...cohortBounds]
    for (let i = 0; i < periods; i++)
      bounds.push(nextStart(period, bounds.at(-1) as number, timeZone))
    // Each period by its number (days or weeks since 1970): consecutive but for a local day
    // that never was (Samoa skipped 30 December 2011), which the SQL must reach past.
    const numbers = bounds.slice(0, -1).map((start) => periodNumber(period, start, timeZone))
    const index = new Map(numbers.map((number, i) => [number, i]))
    const skipped = (numbers.at(-1) as number) - (numbers[0] as number) - (numbers.length - 1)
    const params = new Params()
    const engine = this.#scope.engine
    const matching = retentionRows(
      engine,
      options,
      { from, to },
      { bounds, period, timeZone },
      params,
    )
    // MariaDB's window passes took 6-8 s over 100,000 events where streaming them sorted took
    // 1.3-2.3 s: there the rows stream sorted by person and fold one person at a time, as the
    // funnel's do.
    const rows =
      engine === 'mysql'
        ? await foldRetention(
            stream<RetentionRow>(this.#scope, `${matching} order by actor, at`, params),
            periods + skipped,
          )
        : await run<{ cp: DbInt; pa: DbInt; n: DbInt }>(
            this.#scope,
            retentionSql(matching, periods + skipped, params),
            params,
          )
    const result = Array.from({ length: cohorts }, (_, i) => ({
      start: new Date(bounds[i] as number),
      size: 0,
      returned: new Array<number>(periods + 1).fill(0),
    }))
    for (const row of rows) {
      const cohort = index.get(Number(row.cp))
      const k = (index.get(Number(row.pa)) ?? -1) - (cohort ?? 0)
      const counts = cohort === undefined ? undefined : result[cohort]
      if (counts === undefined || k < 0 || k > periods) continue
      counts.returned[k] = Number(row.n)
      if (k === 0) counts.size = Number(row.n)
    }
    return result
  }

  async dwell(options: {
    readonly from: Date
    readonly to: Date
    readonly limit?: number
  }): Promise<PageDwell[]> {
    const limit = options.limit ?? 20
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DWELL_LIMIT) {
      // slice(0, NaN) is empty: the answer would have been silently nothing.
      throw new AnalyticsQueryError(
        `dwell() takes a whole limit from 1 to ${MAX_DWELL_LIMIT}; got ${describeArgument(limit)}.`,
      )
    }
    const { from, to } = rangeMs(options)
    const params = new Params()
    const rows = await run<{ path: string; views: DbInt; engaged: DbInt }>(
      this.#scope,
      dwellSql(this.#scope.engine, { from, to }, this.#heartbeatMs, limit, params),
      params,
    )
    return rows.map((row) => {
      const views = Number(row.views)
      const engagedMs = Number(row.engaged)
      return { path: row.path, views, engagedMs, averageMs: Math.round(engagedMs / views) }
    })
  }

  /** The daily-count key answering a series with this filter, if the rollups keep it. */
  #rolledKey(
    event: string,
    filter: readonly [string, string][],
  ): { key: string; value: string } | undefined {
    if (filter.length === 0) return { key: '', value: '' }
    if (filter.length > 1) return undefined
    const [key, value] = filter[0] as [string, string]
    return this.#plan.counts.get(event)?.includes(key) ? { key, value } : undefined
  }
}

/**
 * The events a funnel reads, one row each: the person (`actor`), `at`, `id` (for the window's
 * order), `r0` (its time when it is step 1 inside the range, else null) and `m1..m<n-1>` (1 when
 * it matches that step). Step filters are evaluated here, as `series` evaluates them.
 */
function funnelRows(
  engine: DatabaseEngine,
  steps: readonly StepSpec[],
  range: { readonly from: number; readonly to: number },
  windowMs: number,
  params: Params,
): string {
  const matches = steps.map((step) => stepSql(engine, step, params))
  const names = [...new Set(steps.map((step) => step.event))]
  const from = params.add(range.from)
  const actor = actorKey(engine)
  const flags = matches
    .slice(1)
    .map((match, i) => `, case when ${match} then 1 else 0 end as m${i + 1}`)
  const until = Math.min(range.to + windowReach(windowMs), Number.MAX_SAFE_INTEGER)
  return `select ${actor} as actor, e.occurred_at as at, e.id, case when ${matches[0]} and e.occurred_at >= ${from} and e.occurred_at < ${params.add(range.to)} then e.occurred_at end as r0${flags.join('')} from ${EVENTS_FROM} ${ACTOR_JOIN} where e.occurred_at >= ${from} and e.occurred_at < ${params.add(until)} and e.name in ${params.list(names)} and ${HAS_PERSON_SQL}`
}

/** SQL matching a funnel or retention step: its event, and its `where` as `series` compares it. */
function stepSql(engine: DatabaseEngine, step: StepSpec, params: Params): string {
  const conditions = [`e.name = ${params.add(step.event)}`]
  for (const [key, value] of whereEntries(step.where))
    conditions.push(`${propertySql(engine, key, params)} = ${params.add(value)}`)
  return conditions.join(' and ')
}

/**
 * The person ({@link personKeySql}) as a key to sort or partition by. PostgreSQL sorts text by the
 * database's collation unless told otherwise: bytes are exact (a person is one id) and several
 * times cheaper to compare.
 */
function actorKey(engine: DatabaseEngine): string {
  return engine === 'postgres' ? `${personKeySql(engine)} collate "C"` : personKeySql(engine)
}

/** The number of the local day or week holding `ms`, as {@link periodNumberSql} computes it. */
function periodNumber(period: 'day' | 'week', ms: number, timeZone: string): number {
  const day = dayNumber(ms, timeZone)
  return period === 'day' ? day : weekNumber(day)
}

/** SQL numbering the local day or week of `column`, exact for instants in `[first, last]`. */
function periodNumberSql(
  engine: DatabaseEngine,
  period: 'day' | 'week',
  column: string,
  timeZone: string,
  first: number,
  last: number,
): string {
  const day = dayNumberSql(engine, column, timeZone, first, last)
  return period === 'day' ? day : weekNumberSql(engine, day)
}

/**
 * The events a retention answer reads, one row each: the person (`actor`), `at`, `c` (1 when it
 * is a cohort event inside `[from, to)`), `r` (1 when it is a returning event) and `pa`, the
 * number of its local period. Periods are numbered in SQL from the time zone's offset changes
 * over the span ({@link dayNumberSql}), so DST days and weeks are the local ones.
 */
function retentionRows(
  engine: DatabaseEngine,
  steps: { readonly cohort: StepSpec; readonly returning: StepSpec },
  range: { readonly from: number; readonly to: number },
  periods: {
    readonly bounds: readonly number[]
    readonly period: 'day' | 'week'
    readonly timeZone: string
  },
  params: Params,
): string {
  const first = periods.bounds[0] as number
  const last = periods.bounds.at(-1) as number
  const pa = periodNumberSql(
    engine,
    periods.period,
    'e.occurred_at',
    periods.timeZone,
    first,
    last - 1,
  )
  const cohort = `${stepSql(engine, steps.cohort, params)} and e.occurred_at >= ${params.add(range.from)} and e.occurred_at < ${params.add(range.to)}`
  const returning = stepSql(engine, steps.returning, params)
  const names = [...new Set([steps.cohort.event, steps.returning.event])]
  return `select ${actorKey(engine)} as actor, e.occurred_at as at, case when ${cohort} then 1 else 0 end as c, case when ${returning} then 1 else 0 end as r, ${pa} as pa from ${EVENTS_FROM} ${ACTOR_JOIN} where e.occurred_at >= ${params.add(first)} and e.occurred_at < ${params.add(last)} and e.name in ${params.list(names)} and ${HAS_PERSON_SQL}`
}

/**
 * Retention folded in SQL over {@link retentionRows}, so that only the answer's rows come back:
 * for each cohort period `cp` and period `pa` up to `reach` after it, how many people of the
 * cohort did something in `pa` (`pa = cp` counts the cohort). A person's cohort event is their
 * first (`first_at`, a window over their rows), in the period `cp` (period numbers grow with
 * time); their returns are the returning events after it.
 */
function retentionSql(rows: string, reach: number, params: Params): string {
  const started = `select actor, at, r, pa, min(case when c = 1 then at end) over p as first_at, min(case when c = 1 then pa end) over p as cp from (${rows}) m window p as (partition by actor)`
  return `select cp, pa, count(distinct actor) as n from (${started}) w where (at = first_at or r = 1 and at > first_at) and pa - cp <= ${params.add(reach)} group by cp, pa`
}

/** The rows of {@link funnelRows} as the events {@link foldFunnel} reads. */
async function* funnelEvents(
  rows: AsyncIterable<Record<string, DbInt | string | null>>,
  steps: number,
): AsyncIterable<FoldEvent> {
  for await (const row of rows) {
    const matches: number[] = []
    if (row.r0 !== null) matches.push(0)
    for (let k = 1; k < steps; k++) if (Number(row[`m${k}`]) === 1) matches.push(k)
    if (matches.length > 0) yield { at: Number(row.at), actor: row.actor as string, matches }
  }
}

/**
 * The window as a bound on whole milliseconds: times are integers, so its whole part is the
 * same bound, and an integer is what a bigint comparison takes.
 */
function windowReach(windowMs: number): number {
  return Math.min(Math.floor(windowMs), Number.MAX_SAFE_INTEGER)
}

/**
 * A funnel's per-person ordered fold in SQL, one window pass per step after the first over the
 * events of {@link funnelRows} sorted once by person and `(time, id)`: for each event, `r<k>`
 * is the latest step-1 time from which it completes step k (or null). Step 1's is its own time
 * when it is in the range; step k's is the largest `r<k-1>` among the person's earlier events
 * (the frame ends one row before), kept when the event matches step k at most `windowMs` after
 * that start. The latest start leaves the most window, so no start that could convert further
 * is missed; an event matching two steps serves the later one from earlier events only, as it
 * must. A person reached step k when any of their events has an `r<k>`. Rows come back as
 * `s0..s<n-1>`.
 */
function funnelSql(
  engine: DatabaseEngine,
  steps: readonly StepSpec[],
  range: { readonly from: number; readonly to: number },
  windowMs: number,
  params: Params,
): string {
  let rows = funnelRows(engine, steps, range, windowMs, params)
  const frame =
    'window w as (partition by actor order by at, id rows between unbounded preceding and 1 preceding)'
  let window: string | undefined
  for (let k = 1; k < steps.length; k++) {
    const kept = ['actor', 'at', 'id']
    for (let j = 0; j < k; j++) kept.push(`r${j}`)
    for (let j = k + 1; j < steps.length; j++) kept.push(`m${j}`)
    // The start computed once, then compared: MariaDB evaluated the window twice.
    const started = `select ${kept.join(', ')}, m${k}, max(r${k - 1}) over w as start from (${rows}) l${k} ${frame}`
    // Added where first used: PostgreSQL refuses a parameter that no expression types.
    window ??= params.add(windowReach(windowMs))
    rows = `select ${kept.join(', ')}, case when m${k} = 1 and at - start <= ${window} then start end as r${k} from (${started}) s${k}`
  }
  const reached = steps.map((_, k) => `max(case when r${k} is null then 0 else 1 end) as s${k}`)
  const sums = steps.map((_, k) => `sum(s${k}) as s${k}`)
  return `select ${sums.join(', ')} from (select actor, ${reached.join(', ')} from (${rows}) f group by actor) p`
}

// The paths a dwell answer lists at most: the answer is what the process holds.
const MAX_DWELL_LIMIT = 1_000

/**
 * Engaged time per path, Snowplow's page-ping model, folded in the database so that only the
 * answer's rows come back. A page view (a `$page` in the range; its id is the event id) owns
 * the heartbeats and the page-leave naming it in `pageViewId` that come at or after it, up to
 * six hours past the range (a page left open all afternoon). The page script sends a heartbeat
 * every `intervalMs` while the page is visible and used: each distinct sequence number counts
 * one interval (a resent one counts once), but never more intervals than passed until the last
 * heartbeat, since a client may send any number. The first page-leave adds the time since the
 * last heartbeat (or the view, without any), up to one interval: the fallback for visits shorter
 * than one interval. A view with neither counts zero (a bounce we cannot time). Ranked by
 * engaged time, then path in code point order, cut to `limit`.
 */
function dwellSql(
  engine: DatabaseEngine,
  range: { readonly from: number; readonly to: number },
  intervalMs: number,
  limit: number,
  params: Params,
): string {
  const field = (key: string) => {
    if (engine === 'postgres') return `(e.properties ->> ${params.add(key)})`
    const path = params.add(`$.${JSON.stringify(key)}`)
    return engine === 'mysql'
      ? mysqlExactText(`json_unquote(json_extract(e.properties, ${path}))`)
      : `json_extract(e.properties, ${path})`
  }
  const [page, beat, leave] = ['$page', '$heartbeat', '$page_leave'].map((name) => params.add(name))
  const to = params.add(range.to)
  const isView = `e.name = ${page} and e.occurred_at < ${to}`
  const id = engine === 'postgres' ? 'e.id::text' : 'e.id'
  const view = `case when e.name = ${page} then ${id} else ${field('pageViewId')} end`
  // Integer division on every engine: a literal of the configured whole number of milliseconds.
  const interval = String(intervalMs)
  const div = engine === 'mysql' ? 'div' : '/'
  const events = `select e.name, e.occurred_at as at, ${view} as view, case when ${isView} then ${field('path')} end as path, case when e.name = ${beat} then ${field('seq')} end as seq, max(case when ${isView} then e.occurred_at end) over (partition by ${view}) as opened from ${EVENTS_FROM} where e.occurred_at >= ${params.add(range.from)} and e.occurred_at < ${params.add(range.to + 6 * 3_600_000)} and e.name in (${page}, ${beat}, ${leave})`
  const perView = `select max(path) as path, max(opened) as opened, coalesce(max(case when name = ${beat} then at end), max(opened)) as last_at, count(distinct seq) as seqs, min(case when name = ${leave} then at end) as left_at from (${events}) t where at >= opened group by view`
  const elapsed = `(last_at - opened + ${interval} - 1) ${div} ${interval}`
  const engaged = `(case when seqs < ${elapsed} then seqs else ${elapsed} end) * ${interval} + case when left_at is null or left_at <= last_at then 0 when left_at - last_at > ${interval} then ${interval} else left_at - last_at end`
  const path = engine === 'postgres' ? 'path collate "C"' : 'path'
  return `select ${path} as path, count(*) as views, sum(engaged) as engaged from (select path, ${engaged} as engaged from (${perView}) v) d group by ${path} order by engaged desc, ${path} limit ${params.add(limit)}`
}

// More properties than any event has; each costs a condition and two values of the statement.
const MAX_WHERE_KEYS = 100

// Each step after the first is one more window pass over the matching events: 300 steps took
// 26 s on an empty PostgreSQL table.
const MAX_FUNNEL_STEPS = 20

/** A funnel or retention step from the caller: an event name and an optional `where` object. */
function checkStep(step: StepSpec): void {
  if (typeof step !== 'object' || step === null) {
    throw new AnalyticsQueryError(
      `A step must be an object with an event; got ${describeArgument(step)}.`,
    )
  }
  nameArgument("A step's event", step.event)
  whereEntries(step.where)
}

function whereEntries(where: Readonly<Record<string, unknown>> | undefined): [string, string][] {
  if (
    where !== undefined &&
    (typeof where !== 'object' || where === null || Array.isArray(where))
  ) {
    throw new AnalyticsQueryError(
      `where must be an object of property values; got ${describeArgument(where)}.`,
    )
  }
  const entries: [string, string][] = []
  // Each property is a condition and values bound to the statement, as a list's entries are.
  for (const [key, value] of boundedList('where', Object.entries(where ?? {}), MAX_WHERE_KEYS)) {
    if (value === undefined) continue
    const text = scalarText(value)
    if (text === undefined)
      throw new AnalyticsQueryError(`where.${key} must be a string, a finite number or a boolean.`)
    entries.push([key, text])
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * The longest slot, at most a quarter hour, that divides the distance from the first bound to
 * every other: then no slot straddles a bound. A quarter hour in every zone today, but not in
 * all since 1970 (Monrovia was UTC-0:44:30 until 1972, Kiritimati UTC-10:40 until 1979): slots
 * of UTC quarter hours put the seconds after such a local midnight or hour in the period before,
 * or in none.
 */
function slotSize(bounds: readonly number[]): number {
  const first = bounds[0] as number
  let size = SLOT
  for (const bound of bounds) size = gcd(size, bound - first)
  return size
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function bucketIndex(bounds: readonly number[], at: number): number {
  let lo = 0
  let hi = bounds.length - 1
  if (at < (bounds[0] as number) || at >= (bounds[hi] as number)) return -1
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (at >= (bounds[mid] as number)) lo = mid
    else hi = mid
  }
  return lo
}

function points(bounds: readonly number[], counts: readonly number[]): SeriesPoint[] {
  return counts.map((count, i) => ({ start: new Date(bounds[i] as number), count }))
}

function rank(totals: ReadonlyMap<string, number>, limit: number): TopValue[] {
  return [...totals]
    .filter(([, count]) => count > 0)
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || compareCodePoints(a.value, b.value))
    .slice(0, limit)
}
