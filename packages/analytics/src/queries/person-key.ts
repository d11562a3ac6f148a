import type { DatabaseEngine } from '@mortar/core'

declare const personKey: unique symbol

/**
 * A person as the per-person answers and the rollups' unit rows key them: a user id or an
 * anonymous id, tagged with which it is. The two may be the same text (a visitor's cookie 'bob'
 * beside the user 'bob'); keyed by the bare text they were one person, so their purchases made
 * pairs, and `forgetUser` of one erased the other's units. Branded: only {@link userKey} and
 * {@link anonymousKey} make one, so a bare id cannot be passed where a person is meant.
 */
export type PersonKey = string & { readonly [personKey]: true }

const USER_TAG = 'u'
const ANONYMOUS_TAG = 'a'

/** The person of a user id. */
export function userKey(userId: string): PersonKey {
  return `${USER_TAG}${userId}` as PersonKey
}

/**
 * The person of an anonymous id no user is linked to. (Units a fold keyed so before the link
 * arrived are the user's from the next rollup or retention on: see relinkUnits.)
 */
export function anonymousKey(anonymousId: string): PersonKey {
  return `${ANONYMOUS_TAG}${anonymousId}` as PersonKey
}

function tagged(engine: DatabaseEngine, tag: string, id: string): string {
  return engine === 'mysql' ? `concat('${tag}', ${id})` : `'${tag}' || ${id}`
}

/** SQL of {@link userKey} over the user id column or expression `id`. */
export function userKeySql(engine: DatabaseEngine, id: string): string {
  return tagged(engine, USER_TAG, id)
}

/** SQL of {@link anonymousKey} over the anonymous id column or expression `id`. */
export function anonymousKeySql(engine: DatabaseEngine, id: string): string {
  return tagged(engine, ANONYMOUS_TAG, id)
}

/**
 * SQL of the id a person key column or expression `key` holds, without its tag: an index on the
 * id column serves a join on it.
 */
export function personIdSql(key: string): string {
  return `substr(${key}, ${ANONYMOUS_TAG.length + 1})` // Both tags are one character.
}

/**
 * The person an event is about, as SQL over `e` (events) left-joined to `i` (identity links, see
 * `ACTOR_JOIN`): the user, else the user its anonymous id is linked to, else the anonymous id.
 * NULL for an event recorded without identity (no consent): it belongs to no one and counts in
 * no per-person answer.
 */
export function personKeySql(engine: DatabaseEngine): string {
  return `(case when e.user_id is not null then ${userKeySql(engine, 'e.user_id')} when i.user_id is not null then ${userKeySql(engine, 'i.user_id')} when e.anonymous_id is not null then ${anonymousKeySql(engine, 'e.anonymous_id')} end)`
}

/** SQL true when the event `e` is about someone ({@link personKeySql} is not NULL). */
export const HAS_PERSON_SQL = '(e.user_id is not null or e.anonymous_id is not null)'

/**
 * The widest stored person key: an id column's 255 characters and the tag. The unit tables'
 * `actor` column holds this many.
 */
export const MAX_PERSON_KEY_LENGTH = 256
