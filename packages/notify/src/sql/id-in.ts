import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

// Why both helpers hide the ids from PostgreSQL's planner: a batch of ids planned for its real
// size costs as much as scanning a table of a few thousand rows (the planner scans it, 2–5 times
// the time of the probes), and a table whose statistics say it is empty (a vacuum that found a
// pruned ledger empty, with no autovacuum to correct it) is planned as one whole walk of its
// primary key per batch (a join against the ids: 40–130 ms a batch of 50 in a table of 5,000).

/**
 * `column in (…ids)`; on PostgreSQL the ids travel as one array (one parameter) behind a
 * subquery the planner cannot read (`= any(array(select unnest(…)))`): it plans a few probes of
 * the column's index, whatever the table's size or statistics.
 */
export function idIn(
  db: Kysely<unknown>,
  column: string,
  ids: readonly string[],
): Expression<SqlBool> {
  const unique = [...new Set(ids)]
  if (sqlEngine(db) !== 'postgres') return sql<SqlBool>`${sql.ref(column)} in (${sql.join(unique)})`
  return sql<SqlBool>`${sql.ref(column)} = any(array(select unnest(${unique}::text[])))`
}

/**
 * The rows of `table` whose `id` is one of `ids` (each once), as a subquery to select from or
 * join. On PostgreSQL the ids drive: one probe of the primary key per id (a lateral subquery
 * with `limit 1`, which the planner cannot turn around), so no statistics make it a scan or a
 * walk of the table; elsewhere the table filtered by the list.
 */
export function rowsById<Row>(
  db: Kysely<unknown>,
  table: string,
  ids: readonly string[],
): RawBuilder<Row> {
  const unique = [...new Set(ids)]
  if (sqlEngine(db) !== 'postgres') {
    return sql<Row>`(select * from ${sql.table(table)} where id in (${sql.join(unique)}))`
  }
  return sql<Row>`(select r.* from unnest(${unique}::text[]) as k(id)
    cross join lateral (select * from ${sql.table(table)} as t where t.id = k.id limit 1) as r)`
}
