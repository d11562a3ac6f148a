import { ValidationError } from '../errors/http-errors.js'
import { thrownText } from '../errors/thrown-text.js'
import { type StringifiedJson, stringifyJson } from '../validation/stringify-json.js'
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
  let written: StringifiedJson
  try {
    written = stringifyJson(payload)
  } catch (error) {
    throw notJson(job, thrownText(error))
  }
  const { json, change: changed } = written
  if (json === undefined) throw notJson(job, 'it has no JSON form')
  if (json.length > MAX_PAYLOAD_CHARS) {
    throw new ValidationError(
      [{ path: '', message: `at most ${MAX_PAYLOAD_CHARS} characters of JSON`, code: 'too_big' }],
      `The payload of job '${job.name}' is ${json.length} characters of JSON; the limit is ${MAX_PAYLOAD_CHARS}. Store large data elsewhere and enqueue its id.`,
    )
  }
  const parsed: unknown = JSON.parse(json)
  // JSON keeps an own `__proto__` key, but the schema's copy (a record, an object) assigns it as
  // the prototype: the handler would get the object without it.
  const proto = json.includes('"__proto__"') ? protoKeyPath(parsed, '') : undefined
  if (proto !== undefined) {
    throw notJson(
      job,
      `it has an own '__proto__' key at ${proto || '(root)'}, which a copy of the object takes for its prototype; rename the key`,
    )
  }
  const result = job.schema.safeParse(parsed)
  if (result.success) {
    if (changed === undefined) return json
    // JSON changed something the schema may not read (a field it strips) or may read back the
    // same (a Date under z.coerce.date()): stored only if the handler would see what was meant.
    const meant = job.schema.safeParse(payload)
    if (meant.success && sameValue(meant.data, result.data)) return json
    throw notJson(
      job,
      `JSON turns ${changed.text} at ${changed.path}, so its handler would get another value than the one enqueued; pass plain objects and arrays, finite numbers other than -0, and strings for dates`,
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

/** Where `value` (parsed JSON) has an own `__proto__` key, or `undefined`. */
function protoKeyPath(value: unknown, path: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (Object.hasOwn(value, '__proto__')) return path
  for (const [key, item] of Object.entries(value)) {
    const found = protoKeyPath(item, path === '' ? key : `${path}.${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

function notJson(job: JobDefinition, reason: string): ValidationError {
  return new ValidationError(
    [{ path: '', message: reason, code: 'not_json' }],
    `The payload of job '${job.name}' cannot be stored as JSON: ${reason}.`,
  )
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
