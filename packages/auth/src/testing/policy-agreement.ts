import type { Arbitrary } from 'fast-check'
import { type Expression, type Kysely, type SqlBool, sql } from 'kysely'
import type { AccessControl } from '../access-control/access-control.js'
import type { ConditionNode } from '../policy/condition.js'
import type { Row } from '../policy/compile-condition.js'

/** Rows by table: a random world the agreement kit inserts, checks and deletes again. */
export type World = Readonly<Record<string, readonly Row[]>>

type LooseDb = Record<string, Record<string, unknown>>

/** Options of one agreement check, for one principal and one action. */
export interface AgreementCheckOptions<DB, P, A extends string> {
  /** Made on `db` with `AccessControl.create`, after its tables exist. */
  readonly access: AccessControl<DB, P, A>
  readonly db: Kysely<DB>
  readonly resource: keyof DB & string
  readonly action: A
  /** The column that identifies a row of `resource`. */
  readonly key: string
  readonly principal: P | null | undefined
}

/** Where `can` and `where` disagree: keys only one of them lets through. Both empty means agreement. */
export interface Disagreement {
  readonly onlyCan: readonly string[]
  readonly onlyWhere: readonly string[]
}

/** Options of {@link assertPolicyAgreement}. */
export interface PolicyAgreementOptions<DB, P, A extends string> {
  /** Made on `db` with `AccessControl.create`, after its tables exist. */
  readonly access: AccessControl<DB, P, A>
  /** A database whose tables exist and are empty; the kit leaves them empty. */
  readonly db: Kysely<DB>
  readonly resource: keyof DB & string
  readonly actions: readonly A[]
  /** The column that identifies a row of `resource`. */
  readonly key: string
  /** Random worlds: rows by table, inserted in the object's key order (parents first). */
  readonly worlds: Arbitrary<World>
  /** The principals to check in a world (its users, an anonymous caller, …). */
  readonly principals: (world: World) => readonly (P | null | undefined)[]
  /** fast-check runs; 50 by default. */
  readonly numRuns?: number
  readonly seed?: number
}

function relationTables(node: ConditionNode, into: Set<string>): void {
  switch (node.kind) {
    case 'exists':
      into.add(node.table)
      relationTables(node.where, into)
      return
    case 'and':
    case 'or':
      for (const item of node.items) relationTables(item, into)
      return
    case 'not':
      relationTables(node.item, into)
      return
    default:
      return
  }
}

/**
 * Compares, on the rows now in `db`, the rows of `resource` where `can` is true with the rows the
 * `where` query returns, for one principal and action. Rows are read back from the database
 * first, so the point check sees the values the engine returns (0/1 booleans, string bigints).
 *
 * @example
 * ```ts
 * import { findDisagreement } from '@mortar/auth/testing'
 *
 * const { onlyCan, onlyWhere } = await findDisagreement({ access, db, resource: 'trip', action: 'read', key: 'id', principal: user })
 * ```
 */
export async function findDisagreement<DB, P, A extends string>(
  options: AgreementCheckOptions<DB, P, A>,
): Promise<Disagreement> {
  return compare(options, await snapshot(options.db, options.access, options.resource))
}

interface Snapshot {
  readonly rows: readonly Row[]
  readonly related: Readonly<Record<string, readonly Row[]>>
}

async function snapshot<DB, P, A extends string>(
  database: Kysely<DB>,
  access: AccessControl<DB, P, A>,
  resource: string,
): Promise<Snapshot> {
  const db = database as unknown as Kysely<LooseDb>
  const tables = new Set<string>()
  for (const rule of access.policy.rules) relationTables(rule.condition, tables)
  const related: Record<string, readonly Row[]> = {}
  for (const table of tables) related[table] = await db.selectFrom(table).selectAll().execute()
  return { rows: await db.selectFrom(resource).selectAll().execute(), related }
}

async function compare<DB, P, A extends string>(
  options: AgreementCheckOptions<DB, P, A>,
  { rows, related }: Snapshot,
): Promise<Disagreement> {
  const { access, resource, action, key, principal } = options
  const db = options.db as unknown as Kysely<LooseDb>
  const byCan = rows
    .filter((row) => access.can(principal, action, resource, row as never, { related }))
    .map((row) => String(row[key]))
  const condition = access.where(principal, action, resource)
  const byWhere = (await db.selectFrom(resource).selectAll().where(condition).execute()).map(
    (row) => String(row[key]),
  )
  const written = await writtenKeys(db, resource, key, condition, rows)
  const canSet = new Set(byCan)
  const whereSet = new Set(byWhere)
  const onlyWhere = new Set(byWhere.filter((id) => !canSet.has(id)))
  const onlyCan = new Set(byCan.filter((id) => !whereSet.has(id)))
  for (const id of written) if (!canSet.has(id)) onlyWhere.add(id)
  for (const id of byCan) if (!written.has(id)) onlyCan.add(id)
  return { onlyCan: [...onlyCan].sort(), onlyWhere: [...onlyWhere].sort() }
}

class RolledBack extends Error {}

/**
 * The keys of the rows a DELETE filtered by `condition` removes, after an UPDATE filtered by it
 * set a column to itself, in a transaction rolled back: a write may fail where the SELECT
 * passes (MariaDB's strict mode refuses a text read as a number in an UPDATE, 1292, where a
 * SELECT only warns), and may read rows otherwise.
 */
async function writtenKeys(
  db: Kysely<LooseDb>,
  resource: string,
  key: string,
  condition: Expression<SqlBool>,
  rows: readonly Row[],
): Promise<Set<string>> {
  // MariaDB reads the rows of an UPDATE of the key before it writes, with no such refusal.
  const column = Object.keys(rows[0] ?? {}).find((name) => name !== key)
  if (column === undefined) return new Set()
  let touched = new Set<string>()
  try {
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable(resource)
        .set({ [column]: sql.ref(column) })
        .where(condition)
        .execute()
      await trx.deleteFrom(resource).where(condition).execute()
      const kept = new Set(
        (await trx.selectFrom(resource).select(key).execute()).map((row) => String(row[key])),
      )
      touched = new Set(rows.map((row) => String(row[key])).filter((id) => !kept.has(id)))
      throw new RolledBack()
    })
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error
  }
  return touched
}

/**
 * Inserts a world's rows, table by table in key order.
 *
 * @example
 * ```ts
 * import { clearWorld, insertWorld } from '@mortar/auth/testing'
 *
 * await insertWorld(db, { trip: [{ id: 1, rider_id: 'u1' }] })
 * await clearWorld(db, { trip: [] })
 * ```
 */
export async function insertWorld<DB>(db: Kysely<DB>, world: World): Promise<void> {
  const loose = db as unknown as Kysely<LooseDb>
  for (const [table, rows] of Object.entries(world)) {
    if (rows.length > 0)
      await loose
        .insertInto(table)
        .values(rows as Record<string, unknown>[])
        .execute()
  }
}

/**
 * Deletes every row of a world's tables, in reverse key order (children first).
 *
 * @example
 * ```ts
 * import { clearWorld } from '@mortar/auth/testing'
 *
 * await clearWorld(db, { trip: [], trip_share: [] })
 * ```
 */
export async function clearWorld<DB>(db: Kysely<DB>, world: World): Promise<void> {
  const loose = db as unknown as Kysely<LooseDb>
  for (const table of Object.keys(world).reverse()) await loose.deleteFrom(table).execute()
}

/**
 * The agreement kit: for random worlds and every principal and action, asserts with fast-check
 * that the rows where `can` is true are exactly the rows `where` returns. Run it on every engine
 * an app uses; a failure names the world, principal and action, shrunk to a small case.
 *
 * @example
 * ```ts
 * import { assertPolicyAgreement } from '@mortar/auth/testing'
 * import fc from 'fast-check'
 *
 * await assertPolicyAgreement({
 *   access, db, resource: 'trip', actions: ['read', 'cancel'], key: 'id',
 *   worlds: fc.record({ trip: fc.array(tripArbitrary) }),
 *   principals: (world) => [undefined, ...users],
 * })
 * ```
 */
export async function assertPolicyAgreement<DB, P, A extends string>(
  options: PolicyAgreementOptions<DB, P, A>,
): Promise<void> {
  const { db, worlds, principals, actions } = options
  // Loaded here, not at the top: the testing entry must load without its optional peers.
  const fc = await import('fast-check')
  await fc.assert(
    fc.asyncProperty(worlds, async (world) => {
      await insertWorld(db, world)
      try {
        const rows = await snapshot(db, options.access, options.resource)
        for (const principal of principals(world)) {
          for (const action of actions) {
            const found = await compare({ ...options, action, principal }, rows)
            if (found.onlyCan.length > 0 || found.onlyWhere.length > 0) {
              throw new Error(
                `can and where disagree on '${action}' for principal ${JSON.stringify(principal)}: ` +
                  `only can allows [${found.onlyCan.join(', ')}], only where returns [${found.onlyWhere.join(', ')}]`,
              )
            }
          }
        }
      } finally {
        await clearWorld(db, world)
      }
    }),
    {
      numRuns: options.numRuns ?? 50,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    },
  )
}
