import type { Kysely } from 'kysely'
import { anonymousKey, userKey } from '../queries/person-key.js'
import { compile, EVENTS_FROM, Params, type QueryScope, run } from '../queries/query-scope.js'
import type { RollupPlan } from '../rollups/rollup-config.js'
import { rebuildMergedUnits } from '../rollups/legacy-units.js'
import { removeUnits } from '../rollups/cooccurrence-units.js'
import type { EventFilter } from '../rollups/event-filter.js'
import { addDailyCounts, lockRollups, rollupTransaction } from '../rollups/rollups.js'
import {
  BATCH_TABLE,
  type DbInt,
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
  STATE_TABLE,
  SUPPRESSED_ANONYMOUS_TABLE,
  SUPPRESSED_TABLE,
  SUPPRESSED_WHOLE_TABLE,
} from '../storage/analytics-tables.js'
import { MAX_ID_LENGTH } from '../storage/batch-limits.js'
import { deleteKeys, idChunks, insertMissing } from '../storage/bulk-sql.js'
import { fitsColumn, wholeText } from '../storage/storable-text.js'
import { markSuppressions, noUser, wholeDigest } from './suppressed-writes.js'

/** What an erasure deleted, by kind of row. */
export interface ForgetCounts {
  readonly events: number
  readonly failedEvents: number
  readonly identityLinks: number
}

/** What `forgetUser` removed, and what it could not. */
export interface ForgetReport extends ForgetCounts {
  /**
   * The retention cut before which retention had already deleted (rolled-up) events, or `null`
   * when it never deleted any. The user's events among them, if any, were counted in the daily
   * counts, top lists and co-occurrences of their days, which name no one; with the events gone
   * their share cannot be told apart, so it was not subtracted. Everything from this time on was.
   */
  readonly rollupsKeptBefore: Date | null
}

/** The state row recording the latest retention cut that deleted rolled-up events. */
const RETENTION_CUT = 'retention_cut'

/**
 * Deletes everything recorded about a user in one transaction: their events and failed events
 * (under their id, and the anonymous events of every anonymous id linked to them: not another
 * signed-in user's events under a shared anonymous id; a cookieless id is never linked), the
 * links, and their share of the rollups (daily counts, top lists and co-occurrences are
 * decremented by exactly what their rolled-up events still stored added; what retention deleted
 * is past telling apart, and the report says from when); then suppresses the user id and those anonymous ids, so no later
 * write stores their events. Runs under the rollup lock, so a rollup cannot add their events
 * back meanwhile, and the suppression lock, so a batch write in flight commits before it.
 */
export async function forgetUser(
  scope: QueryScope,
  plan: RollupPlan,
  userId: string,
  now: number,
): Promise<ForgetReport> {
  return rollupTransaction(scope).execute(async (trx) => {
    const tx: QueryScope = { ...scope, db: trx as Kysely<unknown> }
    await lockRollups(tx)
    // Batch writes in flight commit first, so what they wrote is deleted below; later ones
    // see the mark and the suppressions this transaction records.
    await markSuppressions(trx as Kysely<unknown>)
    // Units merged before person keys (migration 0009) are split first, so the user's go whole.
    await rebuildMergedUnits(tx, plan)
    if (!fitsColumn(userId, MAX_ID_LENGTH)) return forgetWhole(tx, userId, now)
    const linkParams = new Params()
    const links = await run<{ anonymous_id: string }>(
      tx,
      `select anonymous_id from ${IDENTITY_TABLE} where user_id = ${linkParams.add(userId)}`,
      linkParams,
    )
    const anonymous = links.map((row) => row.anonymous_id)
    // A linked anonymous id takes only the events no one was signed in for: people sharing a
    // computer share its cookie, and another user's events stay theirs. The user's events and
    // each slice of those ids are disjoint parts, one statement each: a user linked to tens of
    // thousands of ids named in one statement passed the engine's bound parameters. (A failed
    // event with no user_id may keep its user's id whole: see noUser.)
    const parts = (alias: string, noUser = `${alias}user_id is null`): EventFilter[] => [
      (params) => `${alias}user_id = ${params.add(userId)}`,
      ...idChunks(anonymous).map(
        (chunk): EventFilter =>
          (params) =>
            `${noUser} and ${alias}anonymous_id in ${params.list(chunk)}`,
      ),
    ]
    // Only events already folded in are in the rollups; pending ones just disappear.
    const rolled = parts('e.').map(
      (part): EventFilter =>
        (params) =>
          `${part(params)} and not exists (select 1 from ${BATCH_TABLE} b where b.batch_id = e.batch_id)`,
    )
    let first: number | undefined
    let last: number | undefined
    for (const part of rolled) {
      const params = new Params()
      const [span] = await run<{ first: DbInt | null; last: DbInt | null }>(
        tx,
        `select min(e.occurred_at) as first, max(e.occurred_at) as last from ${EVENTS_FROM} where ${part(params)}`,
        params,
      )
      if (span?.first == null || span.last == null) continue
      first = Math.min(first ?? Number(span.first), Number(span.first))
      last = Math.max(last ?? Number(span.last), Number(span.last))
    }
    if (first !== undefined && last !== undefined) {
      await addDailyCounts(tx, plan, rolled, { first, last }, -1)
    }
    // A rollup unit is a person's (see PersonKey): the user's, or a linked anonymous id's rolled
    // up before its link arrived. An anonymous id only seen on the user's events is not theirs:
    // everyone behind one address with one browser shares a cookieless id. Tagged: another
    // user whose id is the text of one of those anonymous ids keeps their units.
    await removeUnits(tx, [userKey(userId), ...anonymous.map(anonymousKey)])

    let events = 0
    let failed = 0
    for (const [table, tableParts] of [
      [EVENT_TABLE, parts('')],
      [FAILED_TABLE, parts('', noUser(FAILED_TABLE))],
    ] as const) {
      for (const part of tableParts) {
        const params = new Params()
        const result = await trx.executeQuery(
          compile(tx.engine, `delete from ${table} where ${part(params)}`, params),
        )
        const removed = Number(result.numAffectedRows ?? 0n)
        if (table === EVENT_TABLE) events += removed
        else failed += removed
      }
    }
    const deleteLinks = new Params()
    const removedLinks = await trx.executeQuery(
      compile(
        tx.engine,
        `delete from ${IDENTITY_TABLE} where user_id = ${deleteLinks.add(userId)}`,
        deleteLinks,
      ),
    )
    // The user and the anonymous ids linked to them: a batch written later stores nothing of
    // either, though the links that tied those ids to the user are gone.
    await suppress(tx, SUPPRESSED_TABLE, 'user_id', [userId], now)
    await suppress(tx, SUPPRESSED_ANONYMOUS_TABLE, 'anonymous_id', anonymous, now)
    return {
      events,
      failedEvents: failed,
      identityLinks: Number(removedLinks.numAffectedRows ?? 0n),
      rollupsKeptBefore: await retentionCut(tx),
    }
  })
}

/**
 * {@link forgetUser} of an id no id column holds (past 255 characters, a U+0000 or an unpaired
 * surrogate): only failed events carry it, whole; no event, link or rollup can.
 */
async function forgetWhole(scope: QueryScope, userId: string, now: number): Promise<ForgetReport> {
  const whole = wholeText(userId)
  const params = new Params()
  const removed = await scope.db.executeQuery(
    compile(
      scope.engine,
      `delete from ${FAILED_TABLE} where user_id is null and whole_user_id = ${params.add(whole)}`,
      params,
    ),
  )
  await insertMissing(
    scope.db,
    scope.engine,
    SUPPRESSED_WHOLE_TABLE,
    ['digest', 'user_id', 'suppressed_at'],
    ['digest'],
    [[wholeDigest(userId), whole, now]],
  )
  return {
    events: 0,
    failedEvents: Number(removed.numAffectedRows ?? 0n),
    identityLinks: 0,
    rollupsKeptBefore: await retentionCut(scope),
  }
}

/** The latest retention cut that deleted rolled-up events (see {@link ForgetReport}). */
async function retentionCut(scope: QueryScope): Promise<Date | null> {
  const [cut] = await run<{ value: string }>(
    scope,
    `select value from ${STATE_TABLE} where name = '${RETENTION_CUT}'`,
    new Params(),
  )
  return cut === undefined ? null : new Date(Number(cut.value))
}

/**
 * Suppresses anonymous ids a sink of the app's own unlinked from a forgotten user: no event with
 * no user under them is stored again, by that sink (the tracker skips them) or the SQL one.
 */
export async function suppressAnonymous(
  scope: QueryScope,
  anonymousIds: readonly string[],
  now: number,
): Promise<void> {
  await suppress(scope, SUPPRESSED_ANONYMOUS_TABLE, 'anonymous_id', anonymousIds, now)
}

// In chunks: a user linked to tens of thousands of anonymous ids passed every engine's bound on
// one statement's parameters, and a sink's forget had already deleted the links that named them.
async function suppress(
  scope: QueryScope,
  table: string,
  column: string,
  ids: readonly string[],
  now: number,
): Promise<void> {
  await insertMissing(
    scope.db,
    scope.engine,
    table,
    [column, 'suppressed_at'],
    [column],
    ids.map((id) => [id, now]),
  )
}

/**
 * Deletes events (and failed events) that happened before `before`, 1,000 rows per statement so
 * none runs long; returns how many. The rollups keep their counts: retention limits the raw
 * history, the daily totals stay. An event whose batch is not rolled up yet (one tracked with an
 * old timestamp, or written while the rollups were behind) stays until it is counted: deleted
 * before, it would never reach the daily totals. So retention waits on the rollup schedule;
 * what it holds back is the batch log's rows with an old `first_at`.
 *
 * The rows are picked by a plain read, then deleted by key. A `DELETE` that itself looked up the
 * batch log would, on MariaDB's repeatable read, share-lock the rows and gaps it probed, and so
 * block every batch write (which inserts its log row first) and the rollup's deletion of log
 * rows while it ran. The read is one snapshot, and a batch commits its log row with its events:
 * an event it finds outside the log belongs to a batch already counted.
 */
export async function purgeEventsBefore(scope: QueryScope, before: number): Promise<number> {
  let deleted = 0
  for (const [table, key, counted] of [
    [
      EVENT_TABLE,
      ['occurred_at', 'id'],
      ` and not exists (select 1 from ${BATCH_TABLE} b where b.batch_id = e.batch_id)`,
    ],
    [FAILED_TABLE, ['id'], ''],
  ] as const) {
    for (;;) {
      const params = new Params()
      const rows = await run<Record<string, unknown>>(
        scope,
        `select ${key.map((column) => `e.${column}`).join(', ')} from ${table} e where e.occurred_at < ${params.add(before)}${counted} limit ${PURGE_ROWS}`,
        params,
      )
      if (rows.length === 0) break
      const removed = await deleteKeys(
        scope.db,
        scope.engine,
        table,
        key,
        rows.map((row) => key.map((column) => row[column])),
      )
      // Deleted meanwhile by another transaction (forgetUser): a caller's snapshot would pick
      // them again, forever.
      if (removed === 0) break
      deleted += removed
      if (table === EVENT_TABLE) await recordRetentionCut(scope, before)
    }
  }
  return deleted
}

/**
 * Records that rolled-up events before `before` were deleted: a later `forgetUser` can no
 * longer subtract their share of the rollups, and says from when. Kept as 16 digits so that
 * the text compares as the number, and only ever raised.
 */
async function recordRetentionCut(scope: QueryScope, before: number): Promise<void> {
  const value = String(before).padStart(16, '0')
  await insertMissing(
    scope.db,
    scope.engine,
    STATE_TABLE,
    ['name', 'value'],
    ['name'],
    [[RETENTION_CUT, value]],
  )
  const params = new Params()
  await scope.db.executeQuery(
    compile(
      scope.engine,
      `update ${STATE_TABLE} set value = ${params.add(value)} where name = '${RETENTION_CUT}' and value < ${params.add(value)}`,
      params,
    ),
  )
}

/**
 * Retention of the identity links, which tie an anonymous id to a user: deletes those linked
 * before `before` whose anonymous id no stored event carries any more (run after the events'
 * purge, so their last use is older than the cut), returning how many. A link still in use stays
 * however old: the queries and the rollup join that id's events to the user through it, and the
 * first link of an id wins, so its time is that of the first use, not the last. The candidates
 * are read, then each delete checks again that no event of the id was written meanwhile.
 */
export async function purgeLinksBefore(scope: QueryScope, before: number): Promise<number> {
  let deleted = 0
  const unused = (params: Params, link: string) =>
    `${link}.linked_at < ${params.add(before)} and not exists (select 1 from ${EVENT_TABLE} e where e.anonymous_id = ${link}.anonymous_id)`
  for (;;) {
    const find = new Params()
    const rows = await run<{ anonymous_id: string }>(
      scope,
      `select i.anonymous_id from ${IDENTITY_TABLE} i where ${unused(find, 'i')} limit ${PURGE_ROWS}`,
      find,
    )
    if (rows.length === 0) break
    const remove = new Params()
    const result = await scope.db.executeQuery(
      compile(
        scope.engine,
        `delete from ${IDENTITY_TABLE} where anonymous_id in ${remove.list(rows.map((row) => row.anonymous_id))} and ${unused(remove, IDENTITY_TABLE)}`,
        remove,
      ),
    )
    const removed = Number(result.numAffectedRows ?? 0n)
    // Used again or deleted meanwhile: a caller's snapshot would pick them again, forever.
    if (removed === 0) break
    deleted += removed
  }
  return deleted
}

const PURGE_ROWS = 1_000
