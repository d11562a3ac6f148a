import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * `limit (select count)`, for rows that number `count` anyway: PostgreSQL cannot read a limit
 * given by a subquery and plans the rows before it as a tenth of their number. A batch of ids
 * joined to a table is then planned as probes of its primary key: planned for its real size, a
 * batch of fifty costs as much as scanning a table of a few thousand rows under the default
 * `random_page_cost`, and the planner scans it (2–5 times the time of the probes, every batch).
 */
export function plannedAsFew(count: number): RawBuilder<unknown> {
  return sql`limit (select ${count}::integer)`
}

/**
 * `column in (…ids)`; on PostgreSQL the ids travel as one array (one parameter) and are looked
 * up through the column's index whatever the table's size (see {@link plannedAsFew}).
 */
export function idIn(
  db: Kysely<unknown>,
  column: string,
  ids: readonly string[],
): Expression<SqlBool> {
  const unique = [...new Set(ids)]
  if (sqlEngine(db) !== 'postgres') return sql<SqlBool>`${sql.ref(column)} in (${sql.join(unique)})`
  return sql<SqlBool>`${sql.ref(column)} in (select * from unnest(${unique}::text[]) ${plannedAsFew(unique.length)})`
}
