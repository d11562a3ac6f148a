import { type Resolver, resolveDatabase } from '../persistence/database/index.js'

// Any table, any column: the snapshot reads what the introspection finds.
type AnyTables = Record<string, Record<string, unknown>>

/**
 * Every row of every table in the app's database, by table name, rows in a stable order: compare
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
  const tables = await db.introspection.getTables()
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
