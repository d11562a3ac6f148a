import { ValidationError } from '../errors/http-errors.js'
import { thrownText } from '../errors/thrown-text.js'
import type { JobDefinition } from './define-job.js'

/** Payloads above this size are refused: a queue row is not a blob store. */
export const MAX_PAYLOAD_CHARS = 1_048_576

/**
 * The payload as the JSON the queue stores, checked the way the worker will read it: parsed
 * back and validated by the schema. A value that fits the schema but not JSON (a `Date`, a
 * `Map`, a `bigint`) is refused here, not found by the worker later; so is one that JSON would
 * change into another the schema also takes (`-0` into `0`, `NaN` into `null`, a `Map` into
 * `{}`, an `undefined` item into `null`): the handler gets what was enqueued, or nothing is.
 */
export function serializePayload(job: JobDefinition, payload: unknown): string {
  let json: string | undefined
  const changes = new JsonChanges()
  try {
    json = JSON.stringify(payload, bindHolder(changes))
  } catch (error) {
    throw notJson(job, thrownText(error))
  }
  if (json === undefined) throw notJson(job, 'it has no JSON form')
  if (json.length > MAX_PAYLOAD_CHARS) {
    throw new ValidationError(
      [{ path: '', message: `at most ${MAX_PAYLOAD_CHARS} characters of JSON`, code: 'too_big' }],
      `The payload of job '${job.name}' is ${json.length} characters of JSON; the limit is ${MAX_PAYLOAD_CHARS}. Store large data elsewhere and enqueue its id.`,
    )
  }
  const result = job.schema.safeParse(JSON.parse(json))
  if (result.success) {
    const changed = changes.first
    if (changed === undefined) return json
    // JSON changed something the schema may not read (a field it strips) or may read back the
    // same (a Date under z.coerce.date()): stored only if the handler would see what was meant.
    const meant = job.schema.safeParse(payload)
    if (meant.success && sameValue(meant.data, result.data)) return json
    throw notJson(
      job,
      `JSON turns ${changed}, so its handler would get another value than the one enqueued; pass plain objects and arrays, finite numbers other than -0, and strings for dates`,
    )
  }
  if (job.schema.safeParse(payload).success) {
    throw notJson(
      job,
      `it fits the schema but not after a round trip through JSON (${result.error.issues.map((issue) => issue.message).join('; ')}); pass strings for dates and plain objects and arrays`,
    )
  }
  throw ValidationError.fromZod(
    result.error,
    `The payload of job '${job.name}' does not fit its schema.`,
  )
}

function notJson(job: JobDefinition, reason: string): ValidationError {
  return new ValidationError(
    [{ path: '', message: reason, code: 'not_json' }],
    `The payload of job '${job.name}' cannot be stored as JSON: ${reason}.`,
  )
}

/**
 * Watches `JSON.stringify` for the values it changes rather than writes as they are: through
 * `toJSON` (a `Date`), as an object that is not plain (a `Map`, a class instance: only its own
 * fields go), as a number that has no JSON form (`-0`, `NaN`, `Infinity`), or as an array item
 * that has none (`undefined`, a function, a hole: `null`) or a field that is a function or a
 * symbol (dropped). A field that is `undefined` is dropped, which reads the same. Keeps the first.
 */
class JsonChanges {
  first: string | undefined
  readonly #paths = new WeakMap<object, string>()

  replacer(holder: unknown, key: string, value: unknown): unknown {
    if (this.first !== undefined) return value
    const raw = (holder as Record<string, unknown>)[key]
    const path = this.#path(holder, key)
    const change = changeOf(raw, value, Array.isArray(holder))
    if (change !== undefined) this.first = `${change} at ${path}`
    else if (typeof value === 'object' && value !== null) this.#paths.set(value, path)
    return value
  }

  #path(holder: unknown, key: string): string {
    const parent =
      typeof holder === 'object' && holder !== null ? this.#paths.get(holder) : undefined
    if (parent === undefined) return key === '' ? '(root)' : key
    return parent === '(root)' ? key : `${parent}.${key}`
  }
}

// JSON.stringify calls a replacer with the holder as `this`.
function bindHolder(changes: JsonChanges): (this: unknown, key: string, value: unknown) => unknown {
  return function replacer(this: unknown, key: string, value: unknown) {
    return changes.replacer(this, key, value)
  }
}

function changeOf(raw: unknown, value: unknown, inArray: boolean): string | undefined {
  if (!Object.is(raw, value)) return `${describe(raw)} into ${describe(value)}`
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0 into 0'
    if (!Number.isFinite(value)) return `${value} into null`
    return undefined
  }
  if (typeof value === 'function' || typeof value === 'symbol') {
    return inArray ? `${typeof value} into null` : `a ${typeof value} into nothing`
  }
  if (value === undefined) return inArray ? 'undefined into null' : undefined
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const prototype = Object.getPrototypeOf(value)
    if (prototype !== Object.prototype && prototype !== null) {
      return `${describe(value)} into a plain object`
    }
  }
  return undefined
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value === 'string' ? 'a string' : typeof value
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
    ?.constructor?.name
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'an object'
}

/**
 * Whether the handler would see `meant` as `read`: numbers by `Object.is` (`-0` is not `0`),
 * dates by their time, arrays and plain objects field by field (a field that is `undefined`
 * counts as absent); any other object only as itself.
 */
function sameValue(meant: unknown, read: unknown): boolean {
  if (Object.is(meant, read)) return true
  if (typeof meant !== 'object' || typeof read !== 'object' || meant === null || read === null) {
    return false
  }
  if (meant instanceof Date || read instanceof Date) {
    return (
      meant instanceof Date && read instanceof Date && Object.is(meant.getTime(), read.getTime())
    )
  }
  if (Array.isArray(meant) || Array.isArray(read)) {
    if (!Array.isArray(meant) || !Array.isArray(read) || meant.length !== read.length) return false
    for (let index = 0; index < meant.length; index += 1) {
      if (!sameValue(meant[index], read[index])) return false
    }
    return true
  }
  if (!isPlain(meant) || !isPlain(read)) return false
  const keys = new Set([...Object.keys(meant), ...Object.keys(read)])
  for (const key of keys) {
    if (!sameValue(meant[key], read[key])) return false
  }
  return true
}

function isPlain(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
