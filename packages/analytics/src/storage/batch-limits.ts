import type { EventBatch } from '../sinks/event-sink.js'
import { firstChars, isStorable, isStorableJson } from './storable-text.js'

/** The longest properties JSON an event may have, in UTF-16 units. */
export const MAX_EVENT_BYTES = 32_768
// The deepest JSON (the properties object being level 1) that MariaDB's JSON functions read: one
// event stored deeper failed every rollup and query reading its name's properties from then on
// (SQLite's functions stop at 1,000 levels, MariaDB's at 31).
export const MAX_JSON_DEPTH = 31
/** The longest user, anonymous or session id: the columns are `varchar(255)`. */
export const MAX_ID_LENGTH = 255
/** The longest failed event name its column holds; a longer one is kept whole beside it. */
export const MAX_NAME_LENGTH = 255
/**
 * The latest time an event may have: 9999-12-30, so that its local day in any time zone (UTC+14
 * at most) is in the year 9999. SQLite's and PostgreSQL's date functions write no later day, and
 * one event past it failed every rollup from then on (a NULL or an over-long day).
 */
export const MAX_TIME = Date.UTC(9999, 11, 31) - 1

/** An entry of a batch that `SqlEventSink` did not write, and why. */
export interface RefusedEntry {
  readonly kind: 'event' | 'failed' | 'link'
  /** Its place in the batch's `events`, `failed` or `links`. */
  readonly index: number
  readonly reason: string
}

/** How deep a JSON text nests (a flat object is 1), skipping what is inside strings. */
export function jsonDepth(json: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index)
    if (inString) {
      if (code === 92 /* \ */) index++
      else if (code === 34 /* " */) inString = false
    } else if (code === 34) {
      inString = true
    } else if (code === 123 /* { */ || code === 91 /* [ */) {
      depth++
      if (depth > deepest) deepest = depth
    } else if (code === 125 /* } */ || code === 93 /* ] */) {
      depth--
    }
  }
  return deepest
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

// Batches the tracker made: it holds each entry to these limits as it validates, so the sink
// skips checking them again (about half a microsecond an event, a sixth of ingest's CPU).
const WITHIN_LIMITS = new WeakSet<EventBatch>()

/** Marks a batch the tracker made, whose entries it held to the limits: the sink checks it no more. */
export function withinLimits(batch: EventBatch): EventBatch {
  WITHIN_LIMITS.add(batch)
  return batch
}

/**
 * The batch's entries that some engine would refuse or change, each with the limit it breaks,
 * and the batch without them. SQLite stores a text of any length in a `varchar(100)` and a
 * fraction in a `bigint`, where PostgreSQL refuses the whole batch and MariaDB rounds: the
 * limits are checked here, the same on every engine.
 */
export function splitBatch(batch: EventBatch): {
  readonly valid: EventBatch
  readonly refused: readonly RefusedEntry[]
} {
  if (WITHIN_LIMITS.has(batch)) return { valid: batch, refused: [] }
  const refused: RefusedEntry[] = []
  const check = (kind: RefusedEntry['kind'], index: number, reason: string | undefined) => {
    if (reason !== undefined) refused.push({ kind, index, reason })
    return reason === undefined
  }
  const events = batch.events.filter((event, index) =>
    check(
      'event',
      index,
      headProblem(event) ??
        textProblem('session id', event.sessionId, 1, MAX_ID_LENGTH, true) ??
        textProblem('ip', event.ip, 1, 45, true) ??
        textProblem('user agent', event.userAgent, 1, 512, true) ??
        textProblem('country', event.country, 1, 2, true) ??
        propertiesProblem(event.properties),
    ),
  )
  const failed = batch.failed.filter((event, index) =>
    check(
      'failed',
      index,
      // A failed event keeps the name and ids it came with, whatever no column holds (why it
      // failed) included: the sink keeps them whole.
      keyProblem(event) ??
        wholeProblem('name', event.name) ??
        wholeProblem('user id', event.userId, true) ??
        wholeProblem('anonymous id', event.anonymousId, true) ??
        textProblem('reason', event.reason, 0, Number.POSITIVE_INFINITY) ??
        textProblem('properties', event.properties, 0, Number.POSITIVE_INFINITY, true),
    ),
  )
  const links = batch.links.filter((link, index) =>
    check(
      'link',
      index,
      textProblem('anonymous id', link.anonymousId, 1, MAX_ID_LENGTH) ??
        textProblem('user id', link.userId, 1, MAX_ID_LENGTH) ??
        (Number.isSafeInteger(link.linkedAt) ? undefined : 'linkedAt is not a whole number.'),
    ),
  )
  return {
    valid: refused.length === 0 ? batch : { id: batch.id, events, failed, links },
    refused,
  }
}

/** The id and time every event row has (stored or failed). */
function keyProblem(event: { readonly id: unknown; readonly occurredAt: unknown }) {
  if (typeof event.id !== 'string' || !UUID.test(event.id)) {
    return 'The id is not a UUID in lower case (8-4-4-4-12 hexadecimal digits).'
  }
  const ms = event.occurredAt
  return Number.isSafeInteger(ms) && (ms as number) >= 0 && (ms as number) <= MAX_TIME
    ? undefined
    : 'occurredAt is not whole milliseconds from 1970 to the year 9999.'
}

/** The key, name, user id and anonymous id of a stored event. */
function headProblem(event: {
  readonly id: unknown
  readonly name: unknown
  readonly occurredAt: unknown
  readonly userId: unknown
  readonly anonymousId: unknown
}): string | undefined {
  return (
    keyProblem(event) ??
    textProblem('name', event.name, 1, 100) ??
    textProblem('user id', event.userId, 1, MAX_ID_LENGTH, true) ??
    textProblem('anonymous id', event.anonymousId, 1, MAX_ID_LENGTH, true)
  )
}

/** A text a failed event keeps as given, whatever its length or content. */
function wholeProblem(field: string, value: unknown, nullable = false): string | undefined {
  if (typeof value === 'string' || (value === null && nullable)) return undefined
  return `The ${field} is not a string${nullable ? ' or null' : ''}.`
}

/** A text column's limits, counted in characters (code points) as `varchar` counts them. */
function textProblem(
  field: string,
  value: unknown,
  min: number,
  max: number,
  nullable = false,
): string | undefined {
  if (value === null && nullable) return undefined
  if (typeof value !== 'string') return `The ${field} is not a string${nullable ? ' or null' : ''}.`
  // UTF-16 units are at least the code points: only a longer text needs counting.
  if (value.length < min || (value.length > max && firstChars(value, max) !== value)) {
    return `The ${field} must be ${min} to ${max} characters.`
  }
  if (!isStorable(value)) {
    return `The ${field} holds a NUL character (U+0000) or an unpaired surrogate.`
  }
  return undefined
}

function propertiesProblem(json: unknown): string | undefined {
  if (typeof json !== 'string') return 'The properties are not a string of JSON.'
  if (json.length > MAX_EVENT_BYTES) {
    return `The properties are ${json.length} characters of JSON, over the ${MAX_EVENT_BYTES} limit.`
  }
  if (json[0] !== '{' || json.at(-1) !== '}') return 'The properties are not a JSON object.'
  if (!isStorable(json) || !isStorableJson(json)) {
    return 'The properties hold a NUL character (U+0000) or an unpaired surrogate.'
  }
  const depth = jsonDepth(json)
  if (depth > MAX_JSON_DEPTH) {
    return `The properties nest ${depth} levels deep, over the ${MAX_JSON_DEPTH} that every engine's JSON functions read.`
  }
  return undefined
}
