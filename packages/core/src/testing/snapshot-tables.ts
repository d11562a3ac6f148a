import { sql } from 'kysely'
import { engineOf } from '../persistence/database/database-engine.js'
import { type Resolver, resolveDatabase } from '../persistence/database/index.js'

// Any table, any column: the snapshot reads what the introspection finds.
type AnyTables = Record<string, Record<string, unknown>>

/**
 * Every row of every table in the app's database (on PostgreSQL, its schema), by table name, rows in a stable order: compare
 * a snapshot taken before an action with one taken after to prove it changed nothing. For tests
 * on small databases.
 *
 * @example
 * ```ts
 * import { snapshotTables } from '@mortar/core/testing'
 *
 * const before = await snapshotTables(app)
 * await forgedRequest()
 * expect(await snapshotTables(app)).toEqual(before)
 * ```
 */
export async function snapshotTables(app: Resolver): Promise<Record<string, readonly string[]>> {
  const db = resolveDatabase<AnyTables>(app)
  let tables = await db.introspection.getTables()
  if (engineOf(db) === 'postgres') {
    // PostgreSQL's introspection lists every schema's tables: only the app's are its own (other
    // schemas are other apps', or other tests' that may be dropped while this one reads).
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
    const current = rows[0]?.schema
    tables = tables.filter((table) => table.schema === current)
  }
  const snapshot: Record<string, readonly string[]> = {}
  for (const table of tables) {
    const name = table.schema === undefined ? table.name : `${table.schema}.${table.name}`
    const rows = await db.selectFrom(name).selectAll().execute()
    snapshot[name] = rows.map((row) => JSON.stringify(row, bigints)).sort()
  }
  return snapshot
}

function bigints(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value
}
