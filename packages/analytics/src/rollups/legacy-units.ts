import { CompiledQuery } from 'kysely'
import { anonymousKeySql, userKeySql } from '../queries/person-key.js'
import { ACTOR_JOIN, EVENTS_FROM, Params, type QueryScope, run } from '../queries/query-scope.js'
import {
  BATCH_TABLE,
  type DbInt,
  EVENT_TABLE,
  IDENTITY_TABLE,
  STATE_TABLE,
  UNIT_ITEM_TABLE,
  UNIT_STAGE_TABLE,
} from '../storage/analytics-tables.js'
import { idChunks, insertMissing } from '../storage/bulk-sql.js'
import type { RollupPlan } from './rollup-config.js'
import { addCooccurrences, takeBackUnits } from './cooccurrence-units.js'
import type { EventFilter } from './event-filter.js'
import { relinkUnits } from './linked-units.js'

// Before migration 0009 a unit row's `actor` was the bare id text, so a user and an anonymous
// visitor of the same text shared units. The migration tags each row by what the stored events
// say the text was; a text that was both has merged units, which only a run that knows the
// item sources (the module's options, which no migration sees) can split: the migration marks
// them, and the next rollup, forgetUser or retention takes them back and folds their people's
// stored events again, then moves the units of every linked visitor to their user (relinkUnits),
// as the people those events are now. The split is exact for what stored events back. It cannot
// be for a merged row whose events retention deleted (a purchase goes at the next retention
// anyway; a day of views within the window may lose some): nothing left says which of the two
// people had the item, nor which of the unit's pairs were one person's, so such a row is taken
// back with its pairs and audience and not folded again.

/** The tag of a unit row whose actor was both a user and an anonymous visitor. */
const MERGED_TAG = '!'
/** The state row present while merged or linked units wait to be rebuilt. */
const MERGED_ROW = 'merged_units'

/** SQL true when the text `t` is a user on some stored event: its own, or its link's. */
function userTextSql(t: string): string {
  return `(exists (select 1 from ${EVENT_TABLE} x where x.user_id = ${t}) or exists (select 1 from ${IDENTITY_TABLE} l join ${EVENT_TABLE} x on x.anonymous_id = l.anonymous_id where l.user_id = ${t} and x.user_id is null))`
}

/** SQL true when the text `t` is the anonymous id of a stored event no one was signed in for. */
function anonymousTextSql(t: string): string {
  return `exists (select 1 from ${EVENT_TABLE} x where x.anonymous_id = ${t} and x.user_id is null)`
}

/**
 * Migration 0009's data step: every unit row's bare `actor` becomes a person key. A text the
 * stored events show only as an anonymous id is that visitor; one they show as a user, or do not
 * show at all (its events gone: the row goes at the next retention), is the user; one they show
 * as both is marked merged (see {@link rebuildMergedUnits}). Rewritten through the stage table:
 * an update in place could collide, row by row, with a row not yet rewritten (the bare 'ubob'
 * and the tagged 'bob').
 */
export async function tagBareUnits(scope: QueryScope): Promise<void> {
  const { engine } = scope
  const user = userTextSql('u.actor')
  const anonymous = anonymousTextSql('u.actor')
  const merged =
    engine === 'mysql' ? `concat('${MERGED_TAG}', u.actor)` : `'${MERGED_TAG}' || u.actor`
  await run(
    scope,
    `insert into ${UNIT_STAGE_TABLE} (kind, actor, unit, item) select u.kind, case when ${anonymous} then case when ${user} then ${merged} else ${anonymousKeySql(engine, 'u.actor')} end else ${userKeySql(engine, 'u.actor')} end, u.unit, u.item from ${UNIT_ITEM_TABLE} u`,
    new Params(),
  )
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${UNIT_ITEM_TABLE}`, []))
  await scope.db.executeQuery(
    CompiledQuery.raw(
      `insert into ${UNIT_ITEM_TABLE} (kind, actor, unit, item) select kind, actor, unit, item from ${UNIT_STAGE_TABLE}`,
      [],
    ),
  )
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${UNIT_STAGE_TABLE}`, []))
  // Merged units, or units of a visitor whose link came after 0008's code rolled them up, which
  // it left apart from their user's.
  const [found] = await run<{ one: DbInt | null }>(
    scope,
    `select case when exists (select 1 from ${UNIT_ITEM_TABLE} where actor like '${MERGED_TAG}%') or exists (select 1 from ${UNIT_ITEM_TABLE} u join ${IDENTITY_TABLE} l on u.actor = ${anonymousKeySql(engine, 'l.anonymous_id')}) then 1 end as one`,
    new Params(),
  )
  if (found?.one != null) {
    await insertMissing(
      scope.db,
      engine,
      STATE_TABLE,
      ['name', 'value'],
      ['name'],
      [[MERGED_ROW, '']],
    )
  }
}

/**
 * Splits the units {@link tagBareUnits} marked merged, under the rollup lock: takes back their
 * pairs and audiences, deletes them, and folds again the stored, rolled-up events of the people
 * they mixed (the user of that text, directly or through a link, and the visitor of that text,
 * now keyed by their link if one came since), so each person's units hold their own items;
 * then moves every linked visitor's units to their user. One state row read when there is
 * nothing to do.
 */
export async function rebuildMergedUnits(scope: QueryScope, plan: RollupPlan): Promise<void> {
  const [flag] = await run(
    scope,
    `select value from ${STATE_TABLE} where name = '${MERGED_ROW}'`,
    new Params(),
  )
  if (flag === undefined) return
  const rows = await run<{ actor: string }>(
    scope,
    `select distinct actor from ${UNIT_ITEM_TABLE} where actor like '${MERGED_TAG}%'`,
    new Params(),
  )
  const actors = rows.map((row) => row.actor)
  await takeBackUnits(scope, actors)
  for (const chunk of idChunks(actors.map((actor) => actor.slice(MERGED_TAG.length)))) {
    const filter: EventFilter = (params) =>
      `(e.user_id in ${params.list(chunk)} or e.user_id is null and (e.anonymous_id in ${params.list(chunk)} or i.user_id in ${params.list(chunk)})) and not exists (select 1 from ${BATCH_TABLE} b where b.batch_id = e.batch_id)`
    const params = new Params()
    const [span] = await run<{ first: DbInt | null; last: DbInt | null }>(
      scope,
      `select min(e.occurred_at) as first, max(e.occurred_at) as last from ${EVENTS_FROM} ${ACTOR_JOIN} where ${filter(params)}`,
      params,
    )
    if (span?.first == null || span.last == null) continue
    for (const [kind, source] of plan.items) {
      await addCooccurrences(scope, plan, kind, source, filter, {
        first: Number(span.first),
        last: Number(span.last),
      })
    }
  }
  // The units of visitors linked to their user since: those refolded above are the user's.
  await relinkUnits(scope, plan)
  await scope.db.executeQuery(
    CompiledQuery.raw(`delete from ${STATE_TABLE} where name = '${MERGED_ROW}'`, []),
  )
}

/**
 * Migration 0009's way back: unit rows keyed by bare ids again, a user's and a visitor's of the
 * same text one row, as 0008's code keys them. The column stays wide: every bare id fits.
 */
export async function untagUnits(scope: QueryScope): Promise<void> {
  await scope.db.executeQuery(
    CompiledQuery.raw(
      `insert into ${UNIT_STAGE_TABLE} (kind, actor, unit, item) select distinct kind, substr(actor, 2), unit, item from ${UNIT_ITEM_TABLE}`,
      [],
    ),
  )
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${UNIT_ITEM_TABLE}`, []))
  await scope.db.executeQuery(
    CompiledQuery.raw(
      `insert into ${UNIT_ITEM_TABLE} (kind, actor, unit, item) select kind, actor, unit, item from ${UNIT_STAGE_TABLE}`,
      [],
    ),
  )
  await scope.db.executeQuery(CompiledQuery.raw(`delete from ${UNIT_STAGE_TABLE}`, []))
  await scope.db.executeQuery(
    CompiledQuery.raw(`delete from ${STATE_TABLE} where name = '${MERGED_ROW}'`, []),
  )
}
