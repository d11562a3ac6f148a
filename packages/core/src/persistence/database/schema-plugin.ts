import {
  createQueryId,
  DropTableNode,
  type Kysely,
  type KyselyPlugin,
  type RootOperationNode,
  TableNode,
} from 'kysely'
import { DatabaseError } from './database-error.js'

const PROBE = 'mortar_schema_probe'

/**
 * Refuses a plugin that names a schema for the tables of built queries (Kysely's
 * `WithSchemaPlugin`, what `withSchema()` adds, or one of an app's own). Such a plugin never
 * reaches raw `sql` (Kysely leaves a `RawNode`'s tables as written), and the modules run raw
 * statements on the same tables as their built queries (job claims, notify's ledger, analytics'
 * rollups): their rows would split across two schemas. The connection's own schema reaches both.
 * Known by what it does to a probe query, not by its class, so every such plugin is caught.
 */
export function refuseSchemaPlugin(plugin: KyselyPlugin): void {
  const schema = schemaNamedBy(plugin)
  if (schema === undefined) return
  throw new DatabaseError(
    'E_DATABASE_PLUGIN',
    `A Kysely plugin that puts every table in schema ${JSON.stringify(schema)} (WithSchemaPlugin, as withSchema() adds) cannot be added: it changes built queries only, so the modules' raw SQL would use other tables than their built queries. Choose the schema on the connection instead: on PostgreSQL, add options=-c search_path=<schema> to the URL (?options=-c%20search_path%3D<schema>); on MySQL/MariaDB, name the database in the URL.`,
  )
}

/**
 * Refuses a Kysely that carries a plugin putting tables in a schema (made with `withSchema()` or
 * `withPlugin(new WithSchemaPlugin(…))`), with `E_DATABASE_PLUGIN`: for a component given an
 * app's Kysely that runs raw SQL on its tables, which the plugin would never reach. Call it where
 * the Kysely is taken, so the mistake fails at start-up, not as rows in two schemas.
 *
 * @example
 * ```ts
 * import { refuseSchemaPlugins } from '@mortar/core'
 *
 * class ReportStore {
 *   constructor(readonly db: Kysely<unknown>) {
 *     refuseSchemaPlugins(db) // its queries are raw sql`…` naming report tables
 *   }
 * }
 * ```
 */
export function refuseSchemaPlugins(db: Kysely<unknown>): void {
  let plugins: readonly KyselyPlugin[]
  try {
    plugins = db.getExecutor().plugins
  } catch {
    // A Database's own Kysely before its URL is checked: start() reports the URL, and addPlugin
    // has checked its plugins.
    return
  }
  for (const plugin of plugins) refuseSchemaPlugin(plugin)
}

// The probe is a statement that is never run, and one that plugins watching what a request reads
// or writes (auth's guard, a query log) pass over: a DROP TABLE.
function schemaNamedBy(plugin: KyselyPlugin): string | undefined {
  let node: RootOperationNode
  try {
    node = plugin.transformQuery({
      node: DropTableNode.create(TableNode.create(PROBE)),
      queryId: createQueryId(),
    })
  } catch {
    // A plugin that cannot take a probe query is judged by the queries it does take.
    return undefined
  }
  return DropTableNode.is(node) ? node.table.table.schema?.name : undefined
}
