import { type DatabaseEngine, exactTextType } from '@mortar/core'
import type { Params } from '../queries/query-scope.js'
import { postgresNumberText } from '../queries/query-scope.js'
import { offsetChange, zoneOffset } from '../time/zoned-time.js'

// SQL fragments of the set-based rollup: the engine computes local days, property values and
// item lists itself, so the events never travel to the process.

const DAY = 86_400_000

/**
 * The instants in `[first, last]` where `timeZone`'s offset from UTC changes, and the offsets
 * around them: `offsets[i]` holds before `changes[i]` (and after `changes[i - 1]`).
 */
export function offsetChanges(
  timeZone: string,
  first: number,
  last: number,
): { readonly changes: number[]; readonly offsets: number[] } {
  const offsets = [zoneOffset(first, timeZone)]
  const changes: number[] = []
  if (timeZone === 'UTC') return { changes, offsets }
  // Offsets change at most a few times a year: a daily probe finds each change, a bisection
  // its exact millisecond.
  let before = first
  let offset = offsets[0] as number
  while (before < last) {
    const probe = Math.min(before + DAY, last)
    const next = zoneOffset(probe, timeZone)
    if (next !== offset) {
      changes.push(offsetChange(before, probe, timeZone))
      offsets.push(next)
      offset = next
    }
    before = probe
  }
  return { changes, offsets }
}

/**
 * SQL giving the local day of `column` (epoch milliseconds) in `timeZone` as a day number
 * (days since 1970-01-01), exact for instants in `[first, last]`.
 */
export function dayNumberSql(
  engine: DatabaseEngine,
  column: string,
  timeZone: string,
  first: number,
  last: number,
): string {
  const { changes, offsets } = offsetChanges(timeZone, first, last)
  let shifted: string
  if (changes.length === 0) {
    shifted = `(${column} + ${offsets[0]})`
  } else {
    const branches = changes.map((at, i) => `when ${column} < ${at} then ${offsets[i]}`)
    shifted = `(${column} + case ${branches.join(' ')} else ${offsets.at(-1)} end)`
  }
  if (engine === 'postgres') return `floor(${shifted} / 86400000.0)::int`
  if (engine === 'mysql') return `floor(${shifted} / 86400000)`
  // SQLite divides integers toward zero; step back one day below the epoch.
  return `(${shifted} / 86400000 - (${shifted} % 86400000 < 0))`
}

/** The local day of `ms` in `timeZone` as a day number (days since 1970-01-01), as {@link dayNumberSql} computes it. */
export function dayNumber(ms: number, timeZone: string): number {
  return Math.floor((ms + zoneOffset(ms, timeZone)) / DAY)
}

/**
 * SQL giving the ISO week (Monday to Sunday) of a day number as a week number: 1970-01-01 was a
 * Thursday, so three days on every Monday starts a multiple of seven.
 */
export function weekNumberSql(engine: DatabaseEngine, dayNumber: string): string {
  if (engine === 'postgres') return `floor((${dayNumber} + 3) / 7.0)::int`
  if (engine === 'mysql') return `floor((${dayNumber} + 3) / 7)`
  return `((${dayNumber} + 3) / 7 - ((${dayNumber} + 3) % 7 < 0))`
}

/** The week number of a day number, as {@link weekNumberSql} computes it. */
export function weekNumber(dayNumber: number): number {
  return Math.floor((dayNumber + 3) / 7)
}

/** SQL formatting a day number as `2026-03-01`, as {@link dayText} does. */
export function dayTextSql(engine: DatabaseEngine, dayNumber: string): string {
  if (engine === 'postgres') return `to_char(date '1970-01-01' + (${dayNumber})::int, 'YYYY-MM-DD')`
  if (engine === 'mysql') return `date_format(from_days(719528 + (${dayNumber})), '%Y-%m-%d')`
  return `date((${dayNumber}) * 86400, 'unixepoch')`
}

/** A day number as the rollups store it: `2026-03-01`. */
export function dayText(dayNumber: number): string {
  return new Date(dayNumber * DAY).toISOString().slice(0, 10)
}

/**
 * A join that expands `e`'s array property `key` into rows of `x`, and the SQL of each
 * element's text (`null` for elements that are not scalars). A property that is not an array
 * gives no rows.
 */
export function arrayItemsSql(
  engine: DatabaseEngine,
  key: string,
  params: Params,
): { readonly join: string; readonly item: string } {
  if (engine === 'postgres') {
    const k = params.add(key)
    return {
      join: `cross join lateral jsonb_array_elements(case when jsonb_typeof(e.properties -> ${k}) = 'array' then e.properties -> ${k} else '[]'::jsonb end) as x(v)`,
      item: `(case jsonb_typeof(x.v) when 'number' then substr(${postgresNumberText(`(x.v #>> '{}')`)}, 1, 255) when 'string' then substr(x.v #>> '{}', 1, 255) when 'boolean' then x.v #>> '{}' end)`,
    }
  }
  const member = `$.${JSON.stringify(key)}`
  if (engine === 'mysql') {
    // JSON_TABLE takes its path as a literal only. The key is a property name from the
    // configuration; quote it for both JSON path and SQL string.
    const literal = `'${`${member}[*]`.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
    return {
      // Exact text: JSON_TABLE's default would merge 'P1' with 'p1', and `_bin` 'p1' with 'p1 '.
      join: `cross join json_table(e.properties, ${literal} columns (v ${exactTextType(engine, 'longtext')} path '$')) x`,
      item: 'substr(x.v, 1, 255)',
    }
  }
  const path = params.add(member)
  // A number as its JSON text (`->` at the element's path), as propertySql reads one.
  return {
    join: `join json_each(e.properties, ${path}) x on json_type(e.properties, ${path}) = 'array'`,
    item: `(case x.type when 'true' then 'true' when 'false' then 'false' when 'object' then null when 'array' then null when 'null' then null when 'integer' then e.properties -> x.fullkey when 'real' then e.properties -> x.fullkey else substr(cast(x.value as text), 1, 255) end)`,
  }
}
