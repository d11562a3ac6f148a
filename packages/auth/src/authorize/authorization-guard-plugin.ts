import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import { authorizationRecord } from './authorization-record.js'

/** Options of an {@link AuthorizationGuardPlugin}. */
export interface AuthorizationGuardOptions {
  /** The tables a policy protects: usually `policy.resources`. */
  readonly tables: Iterable<string>
}

function collectTables(
  node: unknown,
  tables: ReadonlySet<string>,
  into: Set<string>,
  depth = 0,
): void {
  if (depth > 64 || node === null || typeof node !== 'object') return
  if (Array.isArray(node)) {
    for (const item of node) collectTables(item, tables, into, depth + 1)
    return
  }
  const operation = node as OperationNode & Record<string, unknown>
  if (operation.kind === 'TableNode') {
    const table = (operation as { table?: { identifier?: { name?: string } } }).table?.identifier
      ?.name
    if (table !== undefined && tables.has(table)) into.add(table)
    return
  }
  // for…in, not Object.values: it runs on every select, and the array per node showed in profiles.
  for (const key in operation) collectTables(operation[key], tables, into, depth + 1)
}

// Every statement that reads or changes rows: a delete or an update without a check is the
// same missing check as a select (an IDOR), and an insert may write someone else's row.
const STATEMENTS: ReadonlySet<string> = new Set([
  'SelectQueryNode',
  'InsertQueryNode',
  'UpdateQueryNode',
  'DeleteQueryNode',
  'MergeQueryNode',
])

/**
 * A Kysely plugin that records, in the current request, which protected tables a statement
 * (select, insert, update, delete, merge) read or changed, so that {@link verifyAuthorized} can
 * fail a request that touched one without an authorization call. It changes no query and costs a walk of the query tree; add it in tests and development.
 *
 * @example
 * ```ts
 * import { AuthorizationGuardPlugin } from '@mortar/auth'
 *
 * const guarded = db.withPlugin(new AuthorizationGuardPlugin({ tables: policy.resources }))
 * ```
 */
export class AuthorizationGuardPlugin implements KyselyPlugin {
  readonly #tables: ReadonlySet<string>

  constructor(options: AuthorizationGuardOptions) {
    this.#tables = new Set(options.tables)
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const record = authorizationRecord()
    if (record !== undefined && STATEMENTS.has(args.node.kind)) {
      collectTables(args.node, this.#tables, record.tables)
    }
    return args.node
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}
