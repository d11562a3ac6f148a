import { CompiledQuery } from 'kysely'
import { insertMissing } from '../storage/bulk-sql.js'
import { Params, type QueryScope, run } from '../queries/query-scope.js'
import {
  ALSO_TABLE,
  ITEM_TABLE,
  PAIR_TABLE,
  STALE_ITEM_TABLE,
  UNIT_ITEM_TABLE,
  UNIT_STAGE_TABLE,
} from '../storage/analytics-tables.js'
import type { ItemKind } from './rollup-config.js'

/** Other items kept per item in its ranked list: the most `alsoViewed` / `alsoBought` return. */
export const ALSO_SIZE = 100
/** The fewest units a pair needs to be listed: the recommendations' default `minSupport`. */
export const ALSO_SUPPORT = 2

/**
 * SQL ordering the pairs `p` of one item, with `i` the other item's audience, as the
 * recommendations rank them: by cosine (together² / the other's audience orders as it does, the
 * item's own audience being the same for every row), then by count, then by name in byte order.
 */
export function alsoOrder(scope: QueryScope, together: string, units: string, other: string) {
  const name = scope.engine === 'postgres' ? `${other} collate "C"` : other
  return `${together} * 1e0 * ${together} / ${units} desc, ${together} desc, ${name}`
}

/**
 * Marks stale the lists a co-occurrence step may have changed, while its new (unit, item) rows
 * are both staged and in the unit table: every item of a unit that gained one (its pairs
 * changed), and every item listing a staged one (that item's audience grew, so its rank in the
 * list fell). No other list can change: adding to an audience only lowers that item's rank.
 */
export async function markChangedLists(scope: QueryScope, kind: ItemKind): Promise<void> {
  const params = new Params()
  const k = params.add(kind)
  const select = scope.engine === 'postgres' ? `${k}::text` : k
  await run(
    scope,
    `insert into ${STALE_ITEM_TABLE} (kind, item) select ${select}, x.item from (select u.item from ${UNIT_ITEM_TABLE} u join (select distinct kind, actor, unit from ${UNIT_STAGE_TABLE} where kind = ${k}) s on u.kind = s.kind and u.actor = s.actor and u.unit = s.unit union select a.item from ${ALSO_TABLE} a join ${UNIT_STAGE_TABLE} s on a.kind = s.kind and a.other = s.item where s.kind = ${k}) x`,
    params,
  )
}

/**
 * Marks stale the lists that removing some items' units (forgetUser) may have changed: those
 * items' own, and every list of an item paired with them, since a smaller audience can raise an
 * item into a list it was not in.
 */
export async function markNeighbourLists(
  scope: QueryScope,
  items: ReadonlyMap<ItemKind, ReadonlySet<string>>,
): Promise<void> {
  for (const [kind, set] of items) {
    const stale = new Set(set)
    const list = [...set]
    for (let start = 0; start < list.length; start += 1_000) {
      const params = new Params()
      const rows = await run<{ item: string }>(
        scope,
        `select distinct item from ${PAIR_TABLE} where kind = ${params.add(kind)} and other in ${params.list(list.slice(start, start + 1_000))}`,
        params,
      )
      for (const row of rows) stale.add(row.item)
    }
    await insertMissing(
      scope.db,
      scope.engine,
      STALE_ITEM_TABLE,
      ['kind', 'item'],
      ['kind', 'item'],
      [...stale].map((item) => [kind, item]),
    )
  }
}

/**
 * Rebuilds the ranked lists of the items marked stale, from their pairs and the current
 * audiences, in one statement, and clears the marks. A list keeps the best {@link ALSO_SIZE}
 * pairs of at least {@link ALSO_SUPPORT} units, so reading recommendations is one short range.
 */
export async function rebuildStaleLists(scope: QueryScope, kind: ItemKind): Promise<void> {
  const remove = new Params()
  const k = remove.add(kind)
  await run(
    scope,
    `delete from ${ALSO_TABLE} where kind = ${k} and item in (select item from ${STALE_ITEM_TABLE} where kind = ${k})`,
    remove,
  )
  if (scope.engine === 'postgres') {
    // As for the unit stage: without statistics on the marks the join was planned blind.
    await scope.db.executeQuery(CompiledQuery.raw(`analyze ${STALE_ITEM_TABLE}`, []))
  }
  const insert = new Params()
  const ik = insert.add(kind)
  // Each audience by a correlated lookup on its key: PostgreSQL joined the freshly filled
  // pairs to the items blind, 13 s for the lists of 300,000 events instead of 0.4 s.
  await run(
    scope,
    `insert into ${ALSO_TABLE} (kind, item, place, other, together, units) select z.kind, z.item, z.r, z.other, z.together, z.units from (select y.kind, y.item, y.other, y.together, y.units, row_number() over (partition by y.item order by ${alsoOrder(scope, 'y.together', 'y.units', 'y.other')}) as r from (select p.kind, p.item, p.other, p.count as together, (select i.units from ${ITEM_TABLE} i where i.kind = p.kind and i.item = p.other) as units from ${STALE_ITEM_TABLE} d join ${PAIR_TABLE} p on p.kind = d.kind and p.item = d.item where d.kind = ${ik} and p.count >= ${insert.add(ALSO_SUPPORT)}) y) z where z.r <= ${insert.add(ALSO_SIZE)}`,
    insert,
  )
  const clear = new Params()
  await run(scope, `delete from ${STALE_ITEM_TABLE} where kind = ${clear.add(kind)}`, clear)
}
