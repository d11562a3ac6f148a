import { CompiledQuery } from 'kysely'
import { anonymousKeySql, type PersonKey, personKeySql } from '../queries/person-key.js'
import {
  ACTOR_JOIN,
  EVENTS_FROM,
  Params,
  propertySql,
  type QueryScope,
  run,
} from '../queries/query-scope.js'
import {
  ITEM_TABLE,
  PAIR_TABLE,
  UNIT_ITEM_TABLE,
  UNIT_STAGE_TABLE,
} from '../storage/analytics-tables.js'
import { addCounts, idChunks } from '../storage/bulk-sql.js'
import { markChangedLists, markNeighbourLists, rebuildStaleLists } from './also-lists.js'
import type { EventFilter, EventSpan } from './event-filter.js'
import type { ItemKind, RollupPlan } from './rollup-config.js'
import { arrayItemsSql, dayTextSql, dayNumberSql } from './rollup-sql.js'
import { selectLiteral, upsertSelect } from './upsert-select.js'

// The co-occurrence units: the (person, unit, item) rows a fold adds and the pairs and
// audiences they make, and how a set of people's units are taken back.

/**
 * Adds the item co-occurrences of the events `filter` selects (see {@link addUnitItems}), so a
 * recommendation reads a list instead of ranking every pair.
 */
export async function addCooccurrences(
  scope: QueryScope,
  plan: RollupPlan,
  kind: ItemKind,
  source: { readonly event: string; readonly key: string; readonly list: boolean },
  filter: EventFilter,
  span: EventSpan,
): Promise<void> {
  await addUnitItems(scope, plan, kind, (params) =>
    unitCandidates(scope, plan, kind, source, filter, span, params),
  )
}

/**
 * Adds to the units of `kind` the (actor, unit, item, at) rows the SQL `candidates` selects
 * (adding its parameters to the given ones). A unit (a person's local day of views, or all of
 * a person's purchases) holds each item once, at most `unitCap` of them (the first in time);
 * each item new to a unit adds one to its audience and one to its pair with every other item of
 * the unit, both ways. Staged in a work table so each step is one statement the database runs
 * over all units at once. Then the ranked lists this may have changed are rebuilt.
 */
export async function addUnitItems(
  scope: QueryScope,
  plan: RollupPlan,
  kind: ItemKind,
  candidateSql: (params: Params) => string,
): Promise<void> {
  const { engine } = scope
  const stage = new Params()
  const k = selectLiteral(engine, stage.add(kind))
  const candidates = candidateSql(stage)
  const sameUnit = (table: string, alias: string, other: string) =>
    `${table} ${alias} on ${alias}.kind = ${other}.kind and ${alias}.actor = ${other}.actor and ${alias}.unit = ${other}.unit`
  await run(
    scope,
    `insert into ${UNIT_STAGE_TABLE} (kind, actor, unit, item) select ${k}, z.actor, z.unit, z.item from (select y.actor, y.unit, y.item, row_number() over (partition by y.actor, y.unit order by y.at, y.item) as r, (select count(*) from ${UNIT_ITEM_TABLE} u where u.kind = ${k} and u.actor = y.actor and u.unit = y.unit) as have from (select c.actor, c.unit, c.item, min(c.at) as at from (${candidates}) c where c.actor is not null and c.item is not null and c.item <> '' group by c.actor, c.unit, c.item) y where not exists (select 1 from ${UNIT_ITEM_TABLE} u where u.kind = ${k} and u.actor = y.actor and u.unit = y.unit and u.item = y.item)) z where z.r + z.have <= ${plan.unitCap}`,
    stage,
  )
  if (engine === 'postgres') {
    // Fresh rows have no statistics: PostgreSQL then guessed a few stage rows per unit and
    // joined them by a nested loop, 10 s for 20,000 events instead of a fraction of one.
    await scope.db.executeQuery(CompiledQuery.raw(`analyze ${UNIT_STAGE_TABLE}`, []))
  }
  const pairs = new Params()
  const p = selectLiteral(engine, pairs.add(kind))
  await upsertSelect(
    scope,
    PAIR_TABLE,
    ['kind', 'item', 'other', 'count'],
    ['kind', 'item', 'other'],
    `select ${p} as kind, q.a, q.b, count(*) as n from (select s.item as a, t.item as b from ${UNIT_STAGE_TABLE} s join ${sameUnit(UNIT_STAGE_TABLE, 't', 's')} and t.item <> s.item where s.kind = ${p} union all select s.item, u.item from ${UNIT_STAGE_TABLE} s join ${sameUnit(UNIT_ITEM_TABLE, 'u', 's')} where s.kind = ${p} union all select u.item, s.item from ${UNIT_STAGE_TABLE} s join ${sameUnit(UNIT_ITEM_TABLE, 'u', 's')} where s.kind = ${p}) q group by q.a, q.b`,
    pairs,
  )
  const items = new Params()
  const i = selectLiteral(engine, items.add(kind))
  await upsertSelect(
    scope,
    ITEM_TABLE,
    ['kind', 'item', 'units'],
    ['kind', 'item'],
    `select ${i} as kind, s.item, count(*) as n from ${UNIT_STAGE_TABLE} s where s.kind = ${i} group by s.item`,
    items,
  )
  await scope.db.executeQuery(
    CompiledQuery.raw(
      `insert into ${UNIT_ITEM_TABLE} (kind, actor, unit, item) select kind, actor, unit, item from ${UNIT_STAGE_TABLE}`,
      [],
    ),
  )
  await markChangedLists(scope, kind)
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${UNIT_STAGE_TABLE}`, []))
  await rebuildStaleLists(scope, kind)
}

/**
 * SQL selecting, for the events `filter` selects, the (actor, unit, item, at) rows they give a
 * unit: the actor is the event's {@link PersonKey}; the unit is the local day for views, ''
 * (all of a person's purchases) for purchases. `filter` may read the identity link `i`. Also
 * `visitor`, the anonymous key of an event no one was signed in for, whatever its links: the
 * unit a fold made of it before its link arrived.
 */
export function unitCandidates(
  scope: QueryScope,
  plan: RollupPlan,
  kind: ItemKind,
  source: { readonly event: string; readonly key: string; readonly list: boolean },
  filter: EventFilter,
  span: EventSpan,
  params: Params,
): string {
  const { engine } = scope
  const unit =
    kind === 'viewed'
      ? dayTextSql(
          engine,
          dayNumberSql(engine, 'e.occurred_at', plan.timeZone, span.first, span.last),
        )
      : "''"
  let from = `${EVENTS_FROM} ${ACTOR_JOIN}`
  let item: string
  if (source.list) {
    const items = arrayItemsSql(engine, source.key, params)
    from += ` ${items.join}`
    item = items.item
  } else {
    item = propertySql(engine, source.key, params)
  }
  const visitor = `case when e.user_id is null then ${anonymousKeySql(engine, 'e.anonymous_id')} end`
  return `select ${personKeySql(engine)} as actor, ${visitor} as visitor, ${unit} as unit, ${item} as item, e.occurred_at as at from ${from} where e.name = ${params.add(source.event)} and ${filter(params)}`
}

/**
 * Removes the co-occurrence contributions of some people (forgetUser): each of their units
 * takes back its pairs and item counts, its rows go, and the ranked lists are rebuilt.
 */
export async function removeUnits(scope: QueryScope, people: readonly PersonKey[]): Promise<void> {
  await takeBackUnits(scope, people)
}

/**
 * {@link removeUnits} of the unit rows whose `actor` column holds one of `actors` as stored:
 * person keys, or the bare ids that rows written before person keys hold (see legacy-units.ts).
 */
export async function takeBackUnits(scope: QueryScope, actors: readonly string[]): Promise<void> {
  if (actors.length === 0) return
  const rows: { kind: ItemKind; actor: string; unit: string; item: string }[] = []
  for (const chunk of idChunks(actors)) {
    const params = new Params()
    rows.push(
      ...(await run<{ kind: ItemKind; actor: string; unit: string; item: string }>(
        scope,
        `select kind, actor, unit, item from ${UNIT_ITEM_TABLE} where actor in ${params.list(chunk)}`,
        params,
      )),
    )
  }
  const units = new Map<string, { kind: string; items: string[] }>()
  for (const row of rows) {
    const id = `${row.kind}\0${row.actor}\0${row.unit}`
    const unit = units.get(id) ?? { kind: row.kind, items: [] }
    units.set(id, unit)
    unit.items.push(row.item)
  }
  const pairs = new Map<string, [string, string, string, number]>()
  const items = new Map<string, [string, string, number]>()
  for (const { kind, items: list } of units.values()) {
    for (const item of list) {
      const key = `${kind}\0${item}`
      const counted = items.get(key)
      if (counted === undefined) items.set(key, [kind, item, -1])
      else counted[2]--
      for (const other of list) {
        if (other === item) continue
        const pairKey = `${kind}\0${item}\0${other}`
        const pair = pairs.get(pairKey)
        if (pair === undefined) pairs.set(pairKey, [kind, item, other, -1])
        else pair[3]--
      }
    }
  }
  await addCounts(scope.db, scope.engine, PAIR_TABLE, ['kind', 'item', 'other'], 'count', [
    ...pairs.values(),
  ])
  await addCounts(scope.db, scope.engine, ITEM_TABLE, ['kind', 'item'], 'units', [
    ...items.values(),
  ])
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${PAIR_TABLE} where count <= 0`, []))
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${ITEM_TABLE} where units <= 0`, []))
  for (const chunk of idChunks(actors)) {
    const remove = new Params()
    await run(scope, `delete from ${UNIT_ITEM_TABLE} where actor in ${remove.list(chunk)}`, remove)
  }
  const touched = new Map<ItemKind, Set<string>>()
  for (const [kind, item] of items.values()) {
    const set = touched.get(kind as ItemKind) ?? new Set<string>()
    touched.set(kind as ItemKind, set)
    set.add(item)
  }
  await markNeighbourLists(scope, touched)
  for (const kind of touched.keys()) await rebuildStaleLists(scope, kind)
}
