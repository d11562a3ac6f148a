import type { DatabaseEngine } from '@mortar/core'
import { type Params, type QueryScope, run } from '../queries/query-scope.js'

/** A parameter marker usable in a select list (PostgreSQL wants its type). */
export function selectLiteral(engine: DatabaseEngine, marker: string): string {
  return engine === 'postgres' ? `${marker}::text` : marker
}

/**
 * `INSERT … SELECT` that adds the select's last column to the counter of rows with the same
 * key, inserting the missing ones: `ON CONFLICT DO UPDATE`, MariaDB's `ON DUPLICATE KEY UPDATE`.
 * The select must give each key once.
 */
export async function upsertSelect(
  scope: QueryScope,
  table: string,
  columns: readonly string[],
  keys: readonly string[],
  select: string,
  params: Params,
): Promise<void> {
  const counter = columns.at(-1) as string
  const into = `insert into ${table} (${columns.join(', ')}) select * from (${select}) g`
  await run(
    scope,
    scope.engine === 'mysql'
      ? `${into} on duplicate key update ${counter} = ${counter} + values(${counter})`
      : // `where true`: SQLite would read ON CONFLICT as a join's ON without it.
        `${into} where true on conflict (${keys.join(', ')}) do update set ${counter} = ${table}.${counter} + excluded.${counter}`,
    params,
  )
}
