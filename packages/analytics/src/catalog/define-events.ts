import type { z } from 'zod'
import { AnalyticsConfigError } from '../errors.js'

/** The zod schema of one event's properties: an object schema. */
export type EventSchema = z.ZodType<Record<string, unknown>, Record<string, unknown>>

/** An event catalogue: event names to the schemas of their properties. */
export type EventSchemas = Readonly<Record<string, EventSchema>>

/** The event names of a catalogue. */
export type EventName<E extends EventSchemas> = keyof E & string

/** What `track()` takes for an event: the schema's input (before defaults and transforms). */
export type EventInput<E extends EventSchemas, K extends EventName<E>> = z.input<E[K]>

/** What is stored and what queries read for an event: the schema's output. */
export type EventProperties<E extends EventSchemas, K extends EventName<E>> = z.output<E[K]>

/** Property values that can be counted, filtered and grouped: strings, numbers and booleans. */
export type ScalarValue = string | number | boolean

/** The property names of an event whose values are scalars: what `top`, `counts` and `where` take. */
export type ScalarKey<E extends EventSchemas, K extends EventName<E>> = {
  [P in keyof EventProperties<E, K> & string]-?: NonNullable<
    EventProperties<E, K>[P]
  > extends ScalarValue
    ? P
    : never
}[keyof EventProperties<E, K> & string]

/** A filter on an event's scalar properties: every given property must equal its value. */
export type PropertyFilter<E extends EventSchemas, K extends EventName<E>> = {
  readonly [P in ScalarKey<E, K>]?: NonNullable<EventProperties<E, K>[P]>
}

/**
 * Types the app's event catalogue for `ANALYTICS`, by declaration merging: declare `events` as
 * the type of the catalogue given to `analyticsModule`.
 *
 * @example
 * ```ts
 * import { defineEvents } from '@mortar/analytics'
 * import { z } from 'zod'
 *
 * export const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })
 * declare module '@mortar/analytics' {
 *   interface AnalyticsTypes { events: typeof events }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface AnalyticsTypes {}

/** The app's catalogue: `AnalyticsTypes['events']` once declared, any catalogue before. */
export type AppEvents = AnalyticsTypes extends { events: infer E extends EventSchemas }
  ? E
  : EventSchemas

const EVENT_NAME = /^[a-z][a-z0-9_.:-]{0,99}$/

/**
 * Declares the events an app tracks, each with a zod schema of its properties. `track()` and
 * every query are typed from it; an event that fails its schema at flush time is stored in the
 * failed-events table with the reason, never thrown into the caller. Names are lower case, at
 * most 100 characters (`product_viewed`, `checkout.completed`); names starting with `$` are
 * Mortar's own (`$page`, `$identify`, `$alias`, `$heartbeat`, `$page_leave`).
 *
 * @example
 * ```ts
 * import { defineEvents } from '@mortar/analytics'
 * import { z } from 'zod'
 *
 * export const events = defineEvents({
 *   product_searched: z.object({ query: z.string().max(200) }),
 *   product_viewed: z.object({ productId: z.string() }),
 *   order_completed: z.object({ orderId: z.string(), productIds: z.array(z.string()), total: z.number() }),
 * })
 * ```
 */
export function defineEvents<const E extends EventSchemas>(events: E): E {
  for (const name of Object.keys(events)) {
    if (!EVENT_NAME.test(name)) {
      throw new AnalyticsConfigError(
        `Event name '${name}' is not valid: use 1 to 100 lower-case letters, digits, '_', '.', ':' or '-', starting with a letter ('$' names are Mortar's own).`,
      )
    }
    const schema = events[name] as { safeParse?: unknown } | undefined
    if (typeof schema?.safeParse !== 'function') {
      throw new AnalyticsConfigError(`Event '${name}' needs a zod schema of its properties.`)
    }
  }
  return Object.freeze({ ...events })
}
