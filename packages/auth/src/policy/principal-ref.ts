declare const refType: unique symbol

/**
 * A value of the principal, named where a rule is written and read when a principal is bound:
 * `p.id` in `(t, p) => t.eq('rider_id', p.id)`. Its type parameter is the value's type, so a
 * rule comparing a text column with a numeric principal field does not compile.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * definePolicy<Db, { id: string; roles: string[] }>().allow('read', 'trip', (t, p) => t.eq('rider_id', p.id))
 * ```
 */
export interface PrincipalRef<V> {
  readonly [refType]: V
}

type Leaf = string | number | bigint | boolean | Date | readonly unknown[] | null | undefined

/**
 * The principal as a rule sees it: every field (nested objects included) is a
 * {@link PrincipalRef} to its value.
 *
 * @example
 * ```ts
 * import type { PrincipalRefs } from '@mortar/auth'
 *
 * type Refs = PrincipalRefs<{ id: string; org: { id: number } }> // refs.org.id: PrincipalRef<number>
 * ```
 */
export type PrincipalRefs<P> = {
  readonly [K in keyof P]-?: PrincipalRef<P[K]> &
    (NonNullable<P[K]> extends Leaf ? unknown : PrincipalRefs<NonNullable<P[K]>>)
}

const paths = new WeakMap<object, readonly string[]>()

/** The path of a principal reference, or `undefined` for a plain value. */
export function refPath(value: unknown): readonly string[] | undefined {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
    ? paths.get(value)
    : undefined
}

/** A proxy standing for the principal: reading `a.b` gives a reference to the path `['a', 'b']`. */
export function principalRefs<P>(path: readonly string[] = []): PrincipalRefs<P> {
  const cache = new Map<string, unknown>()
  const proxy = new Proxy(Object.create(null) as object, {
    get(_target, property) {
      // Symbols (inspection, `then`-probing) are not principal fields.
      if (typeof property !== 'string' || property === 'then') return undefined
      let child = cache.get(property)
      if (child === undefined) {
        child = principalRefs([...path, property])
        cache.set(property, child)
      }
      return child
    },
  })
  paths.set(proxy, path)
  return proxy as PrincipalRefs<P>
}

// Half a surrogate pair (with the `u` flag a whole pair is one code point, not matched).
const UNPAIRED = /\p{Cs}/u

/**
 * Whether a value is one a rule can compare: a string of well-formed Unicode, a number other
 * than NaN, a bigint, a boolean or a valid Date. Anything else (an object, an array, NaN) is
 * neither equal nor unequal to anything, so it can neither grant access nor dodge a deny. A
 * string with an unpaired surrogate (`"\ud800"` in JSON) is no text a column holds, and the
 * drivers of MariaDB and SQLite send it as U+FFFD: SQL took `'a\ud800'` for a row's `'a\ufffd'`.
 */
export function isComparable(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      return !UNPAIRED.test(value)
    case 'bigint':
    case 'boolean':
      return true
    case 'number':
      return !Number.isNaN(value)
    case 'object':
      return value instanceof Date && !Number.isNaN(value.getTime())
    default:
      return false
  }
}

// A principal value of the wrong shape (an object where a rule compares an id, a string where it
// expects a list) counts as missing: the rule fails closed, in the point check and in SQL alike.
function shaped(value: unknown, shape: 'value' | 'list'): unknown {
  if (shape === 'value') return isComparable(value) ? value : undefined
  if (!Array.isArray(value)) return undefined
  for (const item of value) {
    if (item !== null && item !== undefined && !isComparable(item)) return undefined
  }
  return value
}

/**
 * Compiles a path to a getter of a comparable value (`shape: 'value'`) or a list of them
 * (`'list'`, for `in`); `undefined` when any step is missing or the value has another shape.
 */
export function pathGetter(
  path: readonly string[],
  shape: 'value' | 'list',
): (principal: unknown) => unknown {
  if (path.length === 1) {
    const [key] = path as [string]
    return (principal) =>
      principal === null || principal === undefined
        ? undefined
        : shaped((principal as Record<string, unknown>)[key], shape)
  }
  return (principal) => {
    let value: unknown = principal
    for (const key of path) {
      if (value === null || value === undefined) return undefined
      value = (value as Record<string, unknown>)[key]
    }
    return shaped(value, shape)
  }
}
