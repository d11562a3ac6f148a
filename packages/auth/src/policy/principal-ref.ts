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

/** Compiles a path to a getter; `undefined` when any step is missing. */
export function pathGetter(path: readonly string[]): (principal: unknown) => unknown {
  if (path.length === 1) {
    const [key] = path as [string]
    return (principal) =>
      principal === null || principal === undefined
        ? undefined
        : (principal as Record<string, unknown>)[key]
  }
  return (principal) => {
    let value: unknown = principal
    for (const key of path) {
      if (value === null || value === undefined) return undefined
      value = (value as Record<string, unknown>)[key]
    }
    return value
  }
}
