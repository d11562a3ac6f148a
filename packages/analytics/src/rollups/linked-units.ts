import { anonymousKey, anonymousKeySql, personIdSql, userKeySql } from '../queries/person-key.js'
import { Params, type QueryScope, run } from '../queries/query-scope.js'
import { IDENTITY_TABLE, SUPPRESSED_TABLE, UNIT_ITEM_TABLE } from '../storage/analytics-tables.js'
import { idChunks } from '../storage/bulk-sql.js'
import { addUnitItems, takeBackUnits } from './cooccurrence-units.js'
import type { ItemKind, RollupPlan } from './rollup-config.js'

const KINDS: readonly ItemKind[] = ['viewed', 'bought']

// A person is the user an anonymous id is linked to, however late the link comes (see
// PersonKey). A fold keys an anonymous event by the links stored then, so the units a visitor's
// events made before their link arrived are the anonymous key's; once it arrives they are the
// user's. Left apart, the visitor's purchases made no pairs with the user's, and retention,
// finding no stored event of that anonymous key any more (the events now read as the user's),
// deleted them: `excludeBoughtBy` then offered the user what they had bought. Moving them keeps
// the rollups equal to a fold of every stored event under the links stored now.

/**
 * Moves the units of the anonymous ids of the stored links `l` that `links` selects (adding its
 * parameters; every link when omitted) into their users' units: each item new to the user's
 * unit adds its pairs and audience there, then the anonymous units take theirs back and go. Run
 * under the rollup lock, after a fold dropped the links of forgotten users. The rows carry no
 * time: among moved items a full unit (`unitCap`) keeps the first by item id, not by time.
 */
export async function relinkUnits(
  scope: QueryScope,
  plan: RollupPlan,
  links?: (params: Params) => string,
): Promise<void> {
  const { engine } = scope
  const anonymous = anonymousKeySql(engine, 'l.anonymous_id')
  // A link to a forgotten user that a late batch wrote moves nothing: the next fold deletes it.
  const kept = `not exists (select 1 from ${SUPPRESSED_TABLE} s where s.user_id = l.user_id)`
  let actors: string[]
  if (links === undefined) {
    const all = new Params()
    const rows = await run<{ actor: string }>(
      scope,
      `select distinct u.actor from ${UNIT_ITEM_TABLE} u join ${IDENTITY_TABLE} l on u.actor = ${anonymous} where u.kind in ${all.list(KINDS)} and ${kept}`,
      all,
    )
    actors = rows.map((row) => row.actor)
  } else {
    // The few links first, then their units by key: joined the other way round, a planner may
    // scan every unit row on each rollup.
    const params = new Params()
    const linked = await run<{ anonymous_id: string }>(
      scope,
      `select l.anonymous_id from ${IDENTITY_TABLE} l where ${links(params)} and ${kept}`,
      params,
    )
    actors = []
    for (const chunk of idChunks(linked.map((row) => anonymousKey(row.anonymous_id)))) {
      const find = new Params()
      const rows = await run<{ actor: string }>(
        scope,
        `select distinct actor from ${UNIT_ITEM_TABLE} where kind in ${find.list(KINDS)} and actor in ${find.list(chunk)}`,
        find,
      )
      actors.push(...rows.map((row) => row.actor))
    }
  }
  for (const chunk of idChunks(actors)) {
    for (const kind of KINDS) {
      await addUnitItems(
        scope,
        plan,
        kind,
        (add) =>
          `select ${userKeySql(engine, 'l.user_id')} as actor, u.unit, u.item, 0 as at from ${UNIT_ITEM_TABLE} u join ${IDENTITY_TABLE} l on l.anonymous_id = ${personIdSql('u.actor')} and u.actor = ${anonymous} where u.kind = ${add.add(kind)} and u.actor in ${add.list(chunk)} and ${kept}`,
      )
    }
    await takeBackUnits(scope, chunk)
  }
}
