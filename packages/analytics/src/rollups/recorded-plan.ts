import { Params, type QueryScope, run } from '../queries/query-scope.js'
import { STATE_TABLE } from '../storage/analytics-tables.js'
import type { RollupPlan } from './rollup-config.js'

/**
 * What the daily counts were built under, as the rollup's state row records it: the time zone
 * of their days and the properties counted per event. A module whose options differ (a key
 * added to `counts`, another `timeZone`) must not read them as its own: a new key had no
 * counts for the days before it (its series read 0, its top lists nothing), and days of
 * another zone were read as this one's.
 */
export interface RecordedPlan {
  readonly timeZone: string
  readonly counts: Readonly<Record<string, readonly string[]>>
}

/** The record of `plan`, as the state row keeps it: keys sorted, so equal plans are equal text. */
export function planRecord(plan: RollupPlan): string {
  const counts = [...plan.counts]
    .map(([name, keys]): [string, string[]] => [name, [...keys].sort()])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify({ timeZone: plan.timeZone, counts: Object.fromEntries(counts) })
}

/** The state row's record of the plan the rollups were built under, as stored. */
export async function readPlanRecord(scope: QueryScope): Promise<string> {
  const [row] = await run<{ value: string }>(
    scope,
    `select value from ${STATE_TABLE} where name = 'rollup'`,
    new Params(),
  )
  return row?.value ?? '{}'
}

/**
 * The plan of a record, or `undefined` when no run has recorded one yet (a database whose
 * rollups predate the record: taken to be the module's own).
 */
export function parsePlanRecord(record: string): RecordedPlan | undefined {
  const parsed = JSON.parse(record) as Partial<RecordedPlan>
  if (typeof parsed.timeZone !== 'string' || typeof parsed.counts !== 'object') return undefined
  return parsed as RecordedPlan
}

/** The plan the rollups were built under; see {@link parsePlanRecord}. */
export async function recordedPlan(scope: QueryScope): Promise<RecordedPlan | undefined> {
  return parsePlanRecord(await readPlanRecord(scope))
}

/**
 * Whether the daily counts answer for `plan`: the day totals (`key` undefined) or the counts of
 * `event`'s property `key`, in `plan`'s time zone.
 */
export function countsAnswer(
  recorded: RecordedPlan | undefined,
  plan: RollupPlan,
  event: string,
  key: string | undefined,
): boolean {
  if (recorded === undefined) return true
  if (recorded.timeZone !== plan.timeZone) return false
  return (
    key === undefined ||
    (Object.hasOwn(recorded.counts, event) && (recorded.counts[event] ?? []).includes(key))
  )
}
