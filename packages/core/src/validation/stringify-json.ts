/**
 * How `JSON.stringify` writes a value as another that reads back differently:
 * - `to-json`: its `toJSON()` gave another value (a `Date` its ISO text; an invalid one null);
 * - `instance`: an object of a class, written as its own enumerable fields;
 * - `built-in`: an object of a built-in class whose contents JSON does not see (a `Map`, a
 *   `Set`, an `Error`, a `RegExp`, a typed array), written as its enumerable fields (`{}`);
 * - `boxed`: a boxed string, boolean or finite number, written as its primitive;
 * - `negative-zero`: `-0`, written as `0`;
 * - `not-finite`: `NaN` or an infinity (boxed or not), written as `null`;
 * - `nulled`: an array item that is `undefined` (or a hole), a function or a symbol: `null`;
 * - `dropped`: a field that is a function or a symbol, left out.
 *
 * A field that is `undefined` is left out too, and reads back the same: not a change.
 */
export type JsonChangeKind =
  | 'to-json'
  | 'instance'
  | 'built-in'
  | 'boxed'
  | 'negative-zero'
  | 'not-finite'
  | 'nulled'
  | 'dropped'

/** One value that {@link stringifyJson} found JSON writes as another. */
export interface JsonChange {
  readonly kind: JsonChangeKind
  /** Where: `(root)`, or the keys from the top joined by dots (`order.lines.0.amount`). */
  readonly path: string
  /** The value as given. */
  readonly given: unknown
  /**
   * What JSON writes instead: what `toJSON()` gave, `0`, `null`, a boxed value's primitive,
   * `undefined` for a field left out; an object written as its fields is itself.
   */
  readonly written: unknown
  /** In words, without the path: `NaN into null`, `a Date into a string`. */
  readonly text: string
}

/** Options of {@link stringifyJson}. */
export interface StringifyJsonOptions {
  /**
   * The caller's rule: whether it takes a change as JSON writes it (analytics stores a valid
   * `Date` as its ISO text and a class instance as its fields). The walk goes on past a change
   * taken, into what a `toJSON()` gave. Without it every change counts.
   */
  readonly accept?: (change: JsonChange) => boolean
}

/** What {@link stringifyJson} returns. */
export interface StringifiedJson {
  /** `JSON.stringify(value)`: undefined for a value with no JSON form (a function, `undefined`). */
  readonly json: string | undefined
  /** The first value, in the order JSON writes them, that reads back as another; or none. */
  readonly change: JsonChange | undefined
}

/**
 * `JSON.stringify(value)` in one pass with the first value it writes as another, so that a
 * caller storing JSON refuses what would not read back as given instead of storing it silently
 * changed: `NaN` as `null`, a `Map` as `{}`, `-0` as `0`. Throws what `JSON.stringify` throws
 * (a bigint, a cycle).
 *
 * @example
 * ```ts
 * import { stringifyJson } from '@mortar/core'
 *
 * const { json, change } = stringifyJson({ order: { total: Number.NaN } })
 * // json: '{"order":{"total":null}}'
 * // change: { kind: 'not-finite', path: 'order.total', text: 'NaN into null', … }
 *
 * // A rule of its own: a valid Date is stored as its ISO text.
 * stringifyJson({ at: new Date(0) }, {
 *   accept: (found) => found.kind === 'to-json' && found.written !== null,
 * }).change // undefined
 * ```
 */
export function stringifyJson(value: unknown, options: StringifyJsonOptions = {}): StringifiedJson {
  const walk = new JsonWalk(options.accept)
  const json = JSON.stringify(value, function replacer(this: unknown, key, written: unknown) {
    return walk.visit(this, key, written)
  }) as string | undefined
  return { json, change: walk.first }
}

class JsonWalk {
  first: JsonChange | undefined
  readonly #accept: ((change: JsonChange) => boolean) | undefined
  readonly #paths = new WeakMap<object, string>()

  constructor(accept: ((change: JsonChange) => boolean) | undefined) {
    this.#accept = accept
  }

  visit(holder: unknown, key: string, written: unknown): unknown {
    if (this.first !== undefined) return written
    // What the replacer gets is the value after its toJSON(); the holder still has it before.
    const given = (holder as Record<string, unknown>)[key]
    const path = this.#path(holder, key)
    if (!Object.is(given, written)) {
      const text = `${describe(given)} into ${describe(written)}`
      if (this.#stops({ kind: 'to-json', path, given, written, text })) return written
    }
    const kind = kindOf(written, Array.isArray(holder))
    if (kind !== undefined) {
      const instead = writtenAs(kind, written)
      const text = textOf(kind, written, instead)
      if (this.#stops({ kind, path, given: written, written: instead, text })) return written
    }
    if (typeof written === 'object' && written !== null) this.#paths.set(written, path)
    return written
  }

  #stops(change: JsonChange): boolean {
    if (this.#accept?.(change) === true) return false
    this.first = change
    return true
  }

  #path(holder: unknown, key: string): string {
    const parent =
      typeof holder === 'object' && holder !== null ? this.#paths.get(holder) : undefined
    if (parent === undefined) return key === '' ? '(root)' : key
    return parent === '(root)' ? key : `${parent}.${key}`
  }
}

function kindOf(value: unknown, inArray: boolean): JsonChangeKind | undefined {
  switch (typeof value) {
    case 'number':
      if (Object.is(value, -0)) return 'negative-zero'
      return Number.isFinite(value) ? undefined : 'not-finite'
    case 'undefined':
      return inArray ? 'nulled' : undefined
    case 'function':
    case 'symbol':
      return inArray ? 'nulled' : 'dropped'
    case 'object': {
      if (value === null || Array.isArray(value)) return undefined
      const prototype = Object.getPrototypeOf(value)
      if (prototype === Object.prototype || prototype === null) return undefined
      const boxed = unboxed(value)
      if (boxed !== undefined) {
        return typeof boxed === 'number' && !Number.isFinite(boxed) ? 'not-finite' : 'boxed'
      }
      // JSON writes any other object as its own enumerable fields: all of a class instance,
      // none of what a built-in keeps inside (its tag names it: Map, Set, Error, Uint8Array).
      return tagOf(value) === 'Object' ? 'instance' : 'built-in'
    }
    default:
      return undefined
  }
}

/** The primitive inside a boxed number, string or boolean, by the slot JSON itself reads. */
function unboxed(value: object): number | string | boolean | undefined {
  const primitives: readonly ((this: object) => number | string | boolean)[] = [
    Number.prototype.valueOf,
    String.prototype.valueOf,
    Boolean.prototype.valueOf,
  ]
  for (const primitive of primitives) {
    try {
      return primitive.call(value)
    } catch {
      // Not of that kind: each valueOf throws for any other object.
    }
  }
  return undefined
}

/** The value JSON writes for one of `kind`; an object written as its fields is itself. */
function writtenAs(kind: JsonChangeKind, value: unknown): unknown {
  switch (kind) {
    case 'negative-zero':
      return 0
    case 'not-finite':
    case 'nulled':
      return null
    case 'dropped':
      return undefined
    case 'boxed':
      return unboxed(value as object)
    default:
      return value
  }
}

function textOf(kind: JsonChangeKind, given: unknown, written: unknown): string {
  switch (kind) {
    case 'negative-zero':
      return '-0 into 0'
    case 'not-finite':
      return typeof given === 'number' ? `${given} into null` : `a boxed ${Number(given)} into null`
    case 'nulled':
      return `${typeof given} into null`
    case 'dropped':
      return `a ${typeof given} into nothing`
    case 'boxed':
      return `${describe(given)} into ${describe(written)}`
    default:
      return `${describe(given)} into a plain object`
  }
}

/** `Map`, `Date`, `Object`: what `Object.prototype.toString` names it. */
function tagOf(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value === 'string' ? 'a string' : typeof value
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
    ?.constructor?.name
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'an object'
  return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`
}
