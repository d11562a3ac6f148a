// Internal: the checks every StateStore makes, so the memory and Kysely stores behave alike.
import { describeOption, hasLoneSurrogate, ValidationError } from '@mortar/core'
import type { z } from 'zod'
import { StateCorruptedError, StateTooLargeError } from '../errors.js'
import { storableJson } from '../json/index.js'

/** The longest owner and key accepted (the SQL columns are `varchar(255)`). */
export const MAX_STATE_KEY_LENGTH = 255
/** The default size limit of a value: 64 KiB of JSON. */
export const DEFAULT_STATE_MAX_BYTES = 64 * 1024
const NAMESPACE_NAME = /^[A-Za-z0-9._-]{1,100}$/

/** Throws a TypeError for a namespace name outside 1–100 letters, digits, `.`, `_`, `-`. */
export function checkNamespaceName(name: string): string {
  if (typeof name !== 'string' || !NAMESPACE_NAME.test(name)) {
    throw new TypeError(
      `A state namespace name is 1-100 letters, digits, '.', '_' or '-'; got ${JSON.stringify(name)}.`,
    )
  }
  return name
}

/** Throws a RangeError unless `maxBytes` is a positive integer. */
export function checkMaxBytes(maxBytes: number): number {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
    throw new RangeError(`maxBytes must be a positive integer; got ${describeOption(maxBytes)}.`)
  }
  return maxBytes
}

/** Throws a RangeError unless `version` is a non-negative integer. */
export function checkExpectedVersion(version: number): number {
  if (!Number.isInteger(version) || version < 0) {
    throw new RangeError(`expectedVersion must be a non-negative integer; got ${version}.`)
  }
  return version
}

/** When an entry saved at `nowMs` with `ttl` seconds expires, in ms; undefined without a ttl. */
export function expiresAt(nowMs: number, ttl: number | undefined): number | undefined {
  checkTtl(ttl)
  return ttl === undefined ? undefined : nowMs + Math.ceil(ttl * 1_000)
}

/** Throws a RangeError for a `ttl` that is not a positive number of seconds. */
export function checkTtl(ttl: number | undefined): void {
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0)) {
    throw new RangeError(`ttl must be a positive number of seconds; got ${ttl}.`)
  }
}

/**
 * Throws core's ValidationError for an empty or over-long owner or key (user input, often), or
 * one with a lone surrogate: the database stores it as UTF-8, which writes U+FFFD, so the keys
 * 'a\ud800' and 'a\udfff' would be one entry and a put of either overwrite the other.
 */
export function checkStateIds(ids: { readonly owner: string; readonly key?: string }): void {
  const issues = Object.entries(ids).flatMap(([path, value]) =>
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_STATE_KEY_LENGTH &&
    !hasLoneSurrogate(value)
      ? []
      : [
          {
            path,
            code: 'invalid_state_id',
            message: `The ${path} must be 1-${MAX_STATE_KEY_LENGTH} characters of well-formed Unicode.`,
          },
        ],
  )
  if (issues.length > 0) throw new ValidationError(issues)
}

/** What a namespace stores for a value: the schema's output and its JSON. */
export interface EncodedState {
  readonly data: unknown
  readonly json: string
}

/**
 * Validates `value` with the schema (core's ValidationError if it does not fit, or if its JSON
 * would not fit when read back) and serialises the schema's output, refusing more than
 * `maxBytes` of UTF-8 (StateTooLargeError).
 */
export function encodeState(
  place: { readonly namespace: string; readonly key: string },
  schema: z.ZodType,
  maxBytes: number,
  value: unknown,
): EncodedState {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    throw ValidationError.fromZod(
      parsed.error,
      `The value does not fit the state namespace '${place.namespace}'.`,
    )
  }
  const stored = storableJson(schema, parsed.data)
  if (!stored.ok) {
    throw new ValidationError(
      stored.issues.map((issue) => ({ ...issue, code: 'not_stored_as_json' })),
      `The value does not read back from JSON in the state namespace '${place.namespace}'.`,
    )
  }
  const json = stored.json
  const bytes = Buffer.byteLength(json, 'utf8')
  if (bytes > maxBytes) throw new StateTooLargeError({ ...place, bytes, limit: maxBytes })
  return { data: parsed.data, json }
}

/** Parses stored JSON and checks it with the schema; StateCorruptedError when either fails. */
export function decodeState(
  place: { readonly namespace: string; readonly key: string },
  schema: z.ZodType,
  json: string,
): unknown {
  let stored: unknown
  try {
    stored = JSON.parse(json)
  } catch (error) {
    throw new StateCorruptedError({ ...place, paths: [] }, { cause: error })
  }
  const parsed = schema.safeParse(stored)
  if (!parsed.success) {
    const paths = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(root)')
    throw new StateCorruptedError({ ...place, paths }, { cause: parsed.error })
  }
  return parsed.data
}
