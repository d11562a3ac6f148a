import type { DatabaseEngine } from '@mortar/core'
import { createHash } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { EventBatch } from '../sinks/event-sink.js'
import { deleteKeys, idChunks, insertMissing } from '../storage/bulk-sql.js'
import {
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
  STATE_TABLE,
  SUPPRESSED_ANONYMOUS_TABLE,
  SUPPRESSED_TABLE,
  SUPPRESSED_WHOLE_TABLE,
} from '../storage/analytics-tables.js'
import { MAX_ID_LENGTH } from '../storage/batch-limits.js'
import { fitsColumn, wholeText } from '../storage/storable-text.js'

// A batch checked against the suppressions before forgetUser ran (a retry, a late flush, another
// process) must not bring the user back. Writers read this row (share-locked) from before they
// check to their commit; forgetUser updates it (an exclusive lock) to say that suppressions
// exist: a forget waits for the writes in flight (and then deletes what they wrote), and a write
// that follows a forget sees the mark and its suppressions. Until a first forget the mark is
// absent and a write looks nothing up. SQLite's BEGIN IMMEDIATE already serialises the two.
// Under REPEATABLE READ (a caller's transaction), PostgreSQL refuses the share lock of a row
// updated after the transaction's snapshot (a serialization failure), so a batch never purges
// against suppressions older than the forget it waited for; MariaDB's locking reads read the
// latest rows whatever the isolation.

/** The state row's value while no identity was ever suppressed; a migration inserts the row. */
export const SUPPRESSION_LOCK_ROW = { name: 'suppressions', value: '{}' } as const

/** Its value once `forgetUser` suppressed an identity. */
const SUPPRESSIONS_EXIST = '{"exist":true}'

const stateRow = `select value from ${STATE_TABLE} where name = '${SUPPRESSION_LOCK_ROW.name}'`

/**
 * The statement a batch write runs, in its transaction, before it writes: it share-locks the
 * state row and returns its value, which {@link purgeSuppressed} takes.
 */
export function readSuppressionMark(engine: DatabaseEngine): string {
  if (engine === 'sqlite') return stateRow
  return `${stateRow} ${engine === 'mysql' ? 'lock in share mode' : 'for share'}`
}

/**
 * Marks that suppressions exist, under the row's exclusive lock, at the start of forgetUser's
 * transaction: batch writes in flight commit first, later ones wait, then look the batch up.
 */
export async function markSuppressions(db: Kysely<unknown>): Promise<void> {
  await sql`update ${sql.table(STATE_TABLE)} set value = ${SUPPRESSIONS_EXIST} where name = ${SUPPRESSION_LOCK_ROW.name}`.execute(
    db,
  )
}

/** What {@link purgeSuppressed} deleted of a batch. */
export interface Purged {
  readonly events: number
  readonly failed: number
}

const NOTHING: Purged = { events: 0, failed: 0 }

/**
 * Deletes, in the batch's transaction after it was written, what it holds of forgotten
 * identities: events and failed events under a suppressed user id, or with no user under a
 * suppressed anonymous id. A link it made to a forgotten user is deleted and its anonymous id
 * suppressed too (at `now`). `mark` is what {@link readSuppressionMark} returned: while no
 * identity was ever suppressed, nothing is looked up. Otherwise looks the batch's own ids up (by
 * key; a locking read on MariaDB, whose plain reads see the transaction's first snapshot), so a
 * batch of no forgotten identity deletes nothing. Returns what it deleted.
 */
export async function purgeSuppressed(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  batch: EventBatch,
  mark: unknown,
  now: number,
): Promise<Purged> {
  if (mark === SUPPRESSION_LOCK_ROW.value) return NOTHING
  const userIds = new Set<string>()
  const anonymousIds = new Set<string>()
  // Failed events' user ids that no id column holds, which they keep whole.
  const wholeIds = new Set<string>()
  for (const event of [...batch.events, ...batch.failed]) {
    if (event.userId !== null) {
      if (fitsColumn(event.userId, MAX_ID_LENGTH)) userIds.add(event.userId)
      else wholeIds.add(event.userId)
    } else if (event.anonymousId !== null && fitsColumn(event.anonymousId, MAX_ID_LENGTH)) {
      anonymousIds.add(event.anonymousId)
    }
  }
  for (const link of batch.links) userIds.add(link.userId)
  const users = await found(db, engine, SUPPRESSED_TABLE, 'user_id', userIds)
  const lateLinks = batch.links.filter((link) => users.has(link.userId))
  if (lateLinks.length > 0) {
    await insertMissing(
      db,
      engine,
      SUPPRESSED_ANONYMOUS_TABLE,
      ['anonymous_id', 'suppressed_at'],
      ['anonymous_id'],
      lateLinks.map((link) => [link.anonymousId, now]),
    )
    await deleteKeys(
      db,
      engine,
      IDENTITY_TABLE,
      ['anonymous_id', 'user_id'],
      lateLinks.map((link) => [link.anonymousId, link.userId]),
    )
  }
  const anonymous = await found(db, engine, SUPPRESSED_ANONYMOUS_TABLE, 'anonymous_id', [
    ...anonymousIds,
  ])
  const deleted = { [EVENT_TABLE]: 0, [FAILED_TABLE]: 0 }
  // One statement per index (user_id, anonymous_id): an OR of the two would scan the table. By
  // slices of ids: a batch may hold more than a statement's bound parameters.
  for (const table of [EVENT_TABLE, FAILED_TABLE] as const) {
    for (const chunk of idChunks([...users])) {
      const result =
        await sql`delete from ${sql.table(table)} where user_id in (${sql.join(chunk)}) and batch_id = ${batch.id}`.execute(
          db,
        )
      deleted[table] += Number(result.numAffectedRows ?? 0n)
    }
    for (const chunk of idChunks([...anonymous])) {
      const result =
        await sql`delete from ${sql.table(table)} where anonymous_id in (${sql.join(chunk)}) and ${sql.raw(noUser(table))} and batch_id = ${batch.id}`.execute(
          db,
        )
      deleted[table] += Number(result.numAffectedRows ?? 0n)
    }
  }
  const whole = await suppressedWhole(db, engine, wholeIds)
  for (const chunk of idChunks([...whole].map(wholeText))) {
    const result =
      await sql`delete from ${sql.table(FAILED_TABLE)} where whole_user_id in (${sql.join(chunk)}) and batch_id = ${batch.id}`.execute(
        db,
      )
    deleted[FAILED_TABLE] += Number(result.numAffectedRows ?? 0n)
  }
  return { events: deleted[EVENT_TABLE], failed: deleted[FAILED_TABLE] }
}

/**
 * The same deletion as {@link purgeSuppressed} for a batch of events alone, as one statement
 * with no parameters, for PostgreSQL's one-query COPY path (after its share lock): while the
 * mark says no suppression exists, PostgreSQL skips the rest (a one-time filter); otherwise it
 * reads the batch's slice of the time-ordered key and looks each event's ids up by key.
 */
export function purgeSuppressedStatement(batchId: number, first: number, last: number): string {
  return `delete from ${EVENT_TABLE} e where exists (select 1 from ${STATE_TABLE} m where m.name = '${SUPPRESSION_LOCK_ROW.name}' and m.value <> '${SUPPRESSION_LOCK_ROW.value}') and e.occurred_at between ${first} and ${last} and e.batch_id = ${batchId} and (exists (select 1 from ${SUPPRESSED_TABLE} s where s.user_id = e.user_id) or (e.user_id is null and exists (select 1 from ${SUPPRESSED_ANONYMOUS_TABLE} a where a.anonymous_id = e.anonymous_id)))`
}

/**
 * SQL saying that a row of `table` has no user: a failed event whose user id no column holds
 * has a NULL `user_id` and keeps the id whole; it is that user's, not the anonymous id's.
 */
export function noUser(table: string): string {
  return table === FAILED_TABLE ? 'user_id is null and whole_user_id is null' : 'user_id is null'
}

/**
 * Which of these user ids, each one no id column holds, `forgetUser` suppressed: looked up by
 * the digest of each (a locking read on MariaDB, as {@link found}).
 */
export async function suppressedWhole(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  userIds: Iterable<string>,
): Promise<Set<string>> {
  const byDigest = new Map<string, string>()
  for (const id of userIds) byDigest.set(wholeDigest(id), id)
  const digests = await found(db, engine, SUPPRESSED_WHOLE_TABLE, 'digest', byDigest.keys())
  return new Set([...digests].map((digest) => byDigest.get(digest) as string))
}

/** The key of a user id in the suppressions of whole ids: SHA-256 of its JSON, in hex. */
export function wholeDigest(userId: string): string {
  return createHash('sha256').update(wholeText(userId)).digest('hex')
}

async function found(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  table: string,
  column: string,
  ids: Iterable<string>,
): Promise<Set<string>> {
  const hits = new Set<string>()
  for (const chunk of idChunks([...ids])) {
    const rows = await sql<{
      id: string
    }>`select ${sql.ref(column)} as id from ${sql.table(table)} where ${sql.ref(column)} in (${sql.join(chunk)})${
      engine === 'mysql' ? sql` lock in share mode` : sql``
    }`.execute(db)
    for (const row of rows.rows) hits.add(row.id)
  }
  return hits
}
