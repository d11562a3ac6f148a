import { envValue } from './environment.js'
import type { z } from 'zod'
import { isWholeDecimal } from '../validation/decimal-text.js'
import { ConfigError, type ConfigIssue } from './config-error.js'
import { describeIssue } from './describe-issue.js'
import { isSecretSchema } from './secret.js'

/** Options of {@link defineConfig}. */
export interface DefineConfigOptions {
  /** Where to read from; `process.env` by default. Pass a plain object in tests. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Prepended to every variable name: `'SHOP_'` maps `databaseUrl` to `SHOP_DATABASE_URL`. */
  readonly prefix?: string
}

/**
 * Reads the environment into a typed, frozen config object, validated by a zod object schema.
 *
 * Each key `fooBar` reads `${prefix}FOO_BAR`; a nested `z.object` reads its keys with `__`
 * (`database: z.object({ poolSize })` reads `SHOP_DATABASE__POOL_SIZE`). An empty variable counts
 * as unset, so `.default()` and `.optional()` apply. Strings are converted before validation
 * according to the schema they meet, so plain `z.number()` and `z.boolean()` work:
 * - number: a decimal (`'8080'` → `8080`, `'0.5'`, `'1e3'`), bigint: decimal digits; no hex,
 *   binary or octal, and blank is no number;
 * - boolean: `true`/`1`/`yes`/`on` → `true`, `false`/`0`/`no`/`off` → `false` (any case);
 * - date: ISO 8601 (`2026-01-01`, `2026-01-01T09:30:00Z`) naming a real day;
 * - array: split on commas, each item converted by the element schema.
 * Anything else is left as text and rejected by the schema (`SHOP_PORT: expected a number`).
 *
 * Wrap sensitive values in {@link secret}. On failure one {@link ConfigError} lists every bad or
 * missing variable; its reasons are written from the issue kind and never contain a received
 * value.
 *
 * @example
 * ```ts
 * import { defineConfig, secret } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const config = defineConfig(
 *   z.object({
 *     port: z.number().int().default(3000),
 *     databaseUrl: z.string().default('sqlite:./var/shop.db'),
 *     sessionSecret: secret(z.string().min(32)),
 *     mail: z.object({ from: z.email(), pooled: z.boolean().default(true) }),
 *   }),
 *   { prefix: 'SHOP_' },
 * )
 * // reads SHOP_PORT, SHOP_DATABASE_URL, SHOP_SESSION_SECRET, SHOP_MAIL__FROM, SHOP_MAIL__POOLED
 * ```
 */
export function defineConfig<S extends z.ZodObject>(
  schema: S,
  options: DefineConfigOptions = {},
): Readonly<z.output<S>> {
  const env = options.env ?? process.env
  const fields = new Map<string, Field>()
  const input = readObject(shapeOf(schema), env, options.prefix ?? '', [], false, fields).value
  // Each issue carries the value its check saw (never copied into a ConfigIssue): see below.
  const result = schema.safeParse(input, { reportInput: true })
  if (result.success) return deepFreeze(result.data)
  const issues = result.error.issues
  const secretInClear = issues.some((issue) => fieldOf(issue, fields).field?.secret === true)
  throw new ConfigError(issues.map((issue) => toConfigIssue(issue, fields, secretInClear)))
}

/** Converts a camelCase key to the SNAKE_CASE part of a variable name (`apiV2Key` → `API_V2_KEY`). */
export function envVarName(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()
}

interface Field {
  readonly envVar: string
  readonly secret: boolean
  /** Whether the variable (or, for an object, any of its variables) was set. */
  readonly present: boolean
}

// The few parts of zod's internal definition this module reads; zod keeps `_zod.def` stable
// across 4.x because its own JSON Schema generator walks it.
interface Def {
  readonly type: string
  readonly innerType?: z.ZodType
  readonly in?: z.ZodType
  readonly element?: z.ZodType
  readonly shape?: Readonly<Record<string, z.ZodType>>
  readonly getter?: () => z.ZodType
}

const WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'catch',
  'readonly',
  'nonoptional',
])

function defOf(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def
}

function shapeOf(schema: z.ZodType): Readonly<Record<string, z.ZodType>> {
  return defOf(schema).shape ?? {}
}

/** The schema that first meets the raw value, past wrappers and pipes. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema
  for (let depth = 0; depth < 32; depth++) {
    const def = defOf(current)
    const next = WRAPPERS.has(def.type)
      ? def.innerType
      : def.type === 'pipe'
        ? def.in
        : def.type === 'lazy'
          ? def.getter?.()
          : undefined
    if (!next) break
    current = next
  }
  return current
}

/**
 * Whether a {@link secret} schema sits anywhere in `schema`: behind any wrapper, on either side of
 * a pipe (`z.preprocess(fn, secret(…))`), in a union, an intersection, a list, a tuple or a record.
 * Every part of the definition is walked rather than a list of wrappers, so a wrapper zod adds
 * later cannot hide a secret. `group` is an object whose keys are config keys of their own, so
 * its shape is not walked.
 */
function holdsSecret(schema: z.ZodType, group?: z.ZodType, seen = new Set<z.ZodType>()): boolean {
  if (seen.has(schema)) return false
  seen.add(schema)
  if (isSecretSchema(schema)) return true
  if (schema === group) return false
  const def = defOf(schema)
  const parts: unknown[] = Object.values(def)
  if (def.type === 'lazy' && def.getter) parts.push(def.getter())
  return parts.some((part) =>
    (Array.isArray(part) ? part : isSchema(part) ? [part] : Object.values(shapeLike(part))).some(
      (item) => isSchema(item) && holdsSecret(item, group, seen),
    ),
  )
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value
}

// An object's shape: a plain record of schemas (other plain parts of a definition hold none).
function shapeLike(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
    ? (value as Record<string, unknown>)
    : {}
}

function readObject(
  shape: Readonly<Record<string, z.ZodType>>,
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  path: readonly string[],
  secretAbove: boolean,
  fields: Map<string, Field>,
): { value: Record<string, unknown>; present: boolean } {
  const value: Record<string, unknown> = {}
  let present = false
  for (const [key, child] of Object.entries(shape)) {
    const name = prefix + envVarName(key)
    const childPath = [...path, key]
    const base = unwrap(child)
    const group = defOf(base).type === 'object'
    const secret = secretAbove || holdsSecret(child, group ? base : undefined)
    if (group) {
      const nested = readObject(shapeOf(base), env, `${name}__`, childPath, secret, fields)
      fields.set(pathKey(childPath), { envVar: `${name}__*`, secret, present: nested.present })
      // An absent optional group stays undefined; a required one is parsed so each of its keys
      // is reported as missing by name.
      if (nested.present || !child.safeParse(undefined).success) value[key] = nested.value
      present ||= nested.present
      continue
    }
    const raw = envValue(env, name)
    const set = raw !== undefined
    fields.set(pathKey(childPath), { envVar: name, secret, present: set })
    if (set) value[key] = coerce(base, raw)
    present ||= set
  }
  return { value, present }
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])
// One spelling each: what `Number()`, `BigInt()` and `new Date()` also take ('0x1F', '0b1', ''
// as 0n, ' ' as 0n, '1' as the year 2001, '2026-02-31' as 3 March) is a typo until proven
// otherwise, so it is left as text and the schema refuses it. So is a value they would change:
// a whole number past 2^53, however spelled (`9007199254740993` and `9.007199254740993e15` are
// read as ...992; a z.bigint() holds it), a fraction read as a whole number
// (`4503599627370497.5` as ...498, `1e-400` as 0), and a time of day without its offset (`new Date()` reads it in the machine's own time zone, so one
// setting names different instants on different machines).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i
const INTEGER = /^[+-]?\d+$/
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/i

function coerce(schema: z.ZodType, raw: string): unknown {
  const text = raw.trim()
  switch (defOf(schema).type) {
    case 'number': {
      // Read from the text, not the double it becomes: `4503599627370497.5` and `1e-400` become
      // whole numbers they do not say, `9007199254740993.0` a whole number it does not say.
      if (!DECIMAL.test(text)) return raw
      const number = Number(text)
      const whole = isWholeDecimal(text)
      return whole === Number.isInteger(number) && (!whole || Number.isSafeInteger(number))
        ? number
        : raw
    }
    case 'bigint':
      return INTEGER.test(text) ? BigInt(text) : raw
    case 'boolean': {
      const lower = text.toLowerCase()
      return TRUE.has(lower) ? true : FALSE.has(lower) ? false : raw
    }
    case 'date':
      return isoDate(text) ?? raw
    case 'array': {
      const element = defOf(schema).element
      const items = text === '' ? [] : text.split(',').map((item) => item.trim())
      return element ? items.map((item) => coerce(unwrap(element), item)) : items
    }
    default:
      return raw
  }
}

/** An ISO 8601 date or date-time naming a real day (no 31 February), else undefined. */
function isoDate(text: string): Date | undefined {
  const parts = ISO_DATE.exec(text)
  if (parts === null) return undefined
  const [year, month, day] = parts.slice(1, 4).map(Number) as [number, number, number]
  const calendar = new Date(Date.UTC(year, month - 1, day))
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? undefined : date
}

function pathKey(path: readonly PropertyKey[]): string {
  return path.map(String).join('.')
}

/** The deepest config key on the issue's path, and what is left: a position inside its value. */
function fieldOf(
  issue: z.core.$ZodIssue,
  fields: ReadonlyMap<string, Field>,
): { field: Field | undefined; rest: readonly PropertyKey[] } {
  let depth = issue.path.length
  while (depth > 0 && !fields.has(pathKey(issue.path.slice(0, depth)))) depth--
  const field = depth > 0 ? fields.get(pathKey(issue.path.slice(0, depth))) : undefined
  return { field, rest: issue.path.slice(depth) }
}

// A secret that failed its own checks was never wrapped, so a check on its group or on the whole
// config (one with `when`, or `.check()`) saw it in clear. A check that saw an object (or did not
// say what it saw) may quote any value in it; a check that saw one plain value saw only its own.
function sawGroup(issue: z.core.$ZodIssue): boolean {
  return issue.input === undefined || (typeof issue.input === 'object' && issue.input !== null)
}

function toConfigIssue(
  issue: z.core.$ZodIssue,
  fields: ReadonlyMap<string, Field>,
  secretInClear: boolean,
): ConfigIssue {
  const { field, rest } = fieldOf(issue, fields)
  const secret = field?.secret ?? false
  let reason =
    field && !field.present && rest.length === 0 && issue.code === 'invalid_type'
      ? 'missing'
      : describeIssue(issue, {
          secret,
          appTextHidden: secret || (secretInClear && sawGroup(issue)),
        })
  if (rest.length > 0) reason = `at ${pathKey(rest)}: ${reason}`
  return { envVar: field?.envVar ?? '', path: pathKey(issue.path), reason, secret }
}

function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item)
    return Object.freeze(value)
  }
  if (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const item of Object.values(value)) deepFreeze(item)
    return Object.freeze(value)
  }
  return value
}
