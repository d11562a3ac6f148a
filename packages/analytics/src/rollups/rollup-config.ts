import type {
  EventName,
  EventProperties,
  EventSchemas,
  ScalarKey,
} from '../catalog/define-events.js'
import { BUILT_IN_EVENTS } from '../catalog/built-in-events.js'
import { AnalyticsConfigError } from '../errors.js'
import { isStorable } from '../storage/storable-text.js'

/** Property names of an event whose values are arrays of strings or numbers. */
export type ArrayKey<E extends EventSchemas, K extends EventName<E>> = {
  [P in keyof EventProperties<E, K> & string]-?: NonNullable<
    EventProperties<E, K>[P]
  > extends readonly (string | number)[]
    ? P
    : never
}[keyof EventProperties<E, K> & string]

/**
 * Which properties get daily counts, per event (every event gets its daily total). `top()` and
 * `series(…, { where })` on these read the rollups; on others they scan events.
 */
export type CountsConfig<E extends EventSchemas> = {
  readonly [K in EventName<E>]?: readonly ScalarKey<E, K>[]
}

/** Where the items of a recommendation come from: one item per event, or a list per event. */
export type ItemSource<E extends EventSchemas> = {
  [K in EventName<E>]:
    | { readonly event: K; readonly item: ScalarKey<E, K> }
    | { readonly event: K; readonly items: ArrayKey<E, K> }
}[EventName<E>]

/**
 * The events behind `alsoViewed` and `alsoBought`. Viewed items co-occur when one person views
 * both on the same local day; bought items when one person ever bought both.
 */
export interface RecommendationsConfig<E extends EventSchemas> {
  readonly viewed?: ItemSource<E>
  readonly bought?: ItemSource<E>
}

/** The kinds of co-occurrence the rollups keep. */
export type ItemKind = 'viewed' | 'bought'

/** The rollup settings in a form the runner uses. */
export interface RollupPlan {
  readonly timeZone: string
  /** Event name to the property keys counted daily. */
  readonly counts: ReadonlyMap<string, readonly string[]>
  /** Kind to where its items come from. */
  readonly items: ReadonlyMap<
    ItemKind,
    { readonly event: string; readonly key: string; readonly list: boolean }
  >
  /** Values kept per day in the top lists (default 100). */
  readonly topSize: number
  /** Distinct items one unit (a person's day of views, a person's purchases) contributes (50). */
  readonly unitCap: number
}

// The rollups' `prop` column (varchar(64)): a longer key failed every rollup on PostgreSQL and
// MariaDB, every event's included, from the first run on.
const MAX_KEY_CHARS = 64

/**
 * Builds the runner's plan from the module options, refusing at creation what the rollups could
 * never keep: an event not in the catalogue (its counts would stay empty), a key that is no
 * text, an empty key (the daily total's own row, read back as that property's value) or one past
 * the rollups' 64 characters.
 */
export function rollupPlan<E extends EventSchemas>(options: {
  readonly events: E
  readonly timeZone: string
  readonly counts?: CountsConfig<E>
  readonly recommendations?: RecommendationsConfig<E>
}): RollupPlan {
  const known = (name: string) =>
    Object.hasOwn(options.events, name) || Object.hasOwn(BUILT_IN_EVENTS, name)
  const counts = new Map<string, readonly string[]>()
  for (const [name, keys] of Object.entries(options.counts ?? {})) {
    if (!known(name))
      throw new AnalyticsConfigError(`counts names '${name}', which is no event of the catalogue.`)
    if (keys === undefined) continue
    if (!Array.isArray(keys)) {
      throw new AnalyticsConfigError(`counts.${name} must be a list of property names.`)
    }
    for (const key of keys as unknown[]) checkKey(`counts.${name}`, key, MAX_KEY_CHARS)
    if (keys.length > 0) counts.set(name, [...new Set(keys as string[])])
  }
  const items = new Map<ItemKind, { event: string; key: string; list: boolean }>()
  for (const kind of ['viewed', 'bought'] as const) {
    const source = options.recommendations?.[kind] as
      | { event: string; item?: unknown; items?: unknown }
      | undefined
    if (source === undefined) continue
    if (!known(source.event)) {
      throw new AnalyticsConfigError(
        `recommendations.${kind} names '${String(source.event)}', which is no event of the catalogue.`,
      )
    }
    if ((source.item === undefined) === (source.items === undefined)) {
      throw new AnalyticsConfigError(`recommendations.${kind} takes one of item or items.`)
    }
    const key = checkKey(`recommendations.${kind}`, source.item ?? source.items)
    items.set(kind, { event: source.event, key, list: source.items !== undefined })
  }
  return { timeZone: options.timeZone, counts, items, topSize: 100, unitCap: 50 }
}

function checkKey(where: string, key: unknown, maxChars = Number.POSITIVE_INFINITY): string {
  if (typeof key !== 'string' || key === '' || [...key].length > maxChars || !isStorable(key)) {
    const length = Number.isFinite(maxChars) ? ` of 1 to ${maxChars} characters` : ''
    throw new AnalyticsConfigError(
      `${where} takes property names${length} (no U+0000 or unpaired surrogate); got ${typeof key === 'string' ? JSON.stringify(key) : typeof key}.`,
    )
  }
  return key
}
