import type { z } from 'zod'
import { globalToken } from '../di/token.js'
import { MortarError, ValidationError } from '../errors/index.js'
import type { Logger } from '../logger/logger.js'
import type { AfterCommitFailure } from '../persistence/transactions/after-commit-failure.js'
import type { SuspiciousActivity } from './suspicious-activity.js'

/**
 * The events an app can publish, by name, with their payload types. Core declares its own
 * (`mortar.*`); each package or app adds its events by declaration merging, so `publish` and
 * `subscribe` are typed.
 *
 * @example
 * ```ts
 * declare module '@mortar/core' {
 *   interface EventMap {
 *     'order.placed': { orderId: string; total: number }
 *   }
 * }
 * ```
 */
export interface EventMap {
  /** An `afterCommit` callback failed after its transaction committed (the call resolved). */
  'mortar.after_commit_failed': AfterCommitFailure
  /** An attack was detected (published by `@mortar/auth`'s login throttle; notify's alerts subscribe). */
  'security.suspicious_activity': SuspiciousActivity
}

/** A subscriber to the event `K`; it may return a promise, which `publish` awaits. */
export type EventHandler<K extends keyof EventMap> = (
  payload: EventMap[K],
  name: K,
) => void | Promise<void>

interface Subscription {
  readonly handler: (payload: unknown, name: PropertyKey) => void | Promise<void>
}

/**
 * A typed, in-process event bus. Handlers run one after another in subscription order and are
 * awaited by `publish`; a handler that throws or rejects is logged with the event name and never
 * stops the others nor fails the publisher. Events given a schema with {@link EventBus.define}
 * are validated before any handler runs.
 *
 * @example
 * ```ts
 * import { createLogger, EventBus } from '@mortar/core'
 * import { z } from 'zod'
 *
 * declare module '@mortar/core' {
 *   interface EventMap { 'order.placed': { orderId: string } }
 * }
 *
 * const bus = new EventBus(createLogger())
 * bus.define('order.placed', z.object({ orderId: z.string().min(1) }))
 * const unsubscribe = bus.subscribe('order.placed', async ({ orderId }) => {
 *   console.log('placed', orderId)
 * })
 * await bus.publish('order.placed', { orderId: 'o-1' })
 * unsubscribe()
 * ```
 */
export class EventBus {
  readonly #logger: Logger
  readonly #handlers = new Map<PropertyKey, Subscription[]>()
  readonly #schemas = new Map<PropertyKey, z.ZodType>()

  constructor(logger: Logger) {
    this.#logger = logger
  }

  /**
   * Gives the event a schema: from now on `publish` validates its payload, throws a
   * `ValidationError` before any handler runs when it does not fit, and hands handlers the
   * parsed value. An event is defined once.
   */
  define<K extends keyof EventMap>(name: K, schema: z.ZodType<EventMap[K]>): void {
    if (this.#schemas.has(name)) {
      throw new MortarError(
        'E_EVENT_ALREADY_DEFINED',
        500,
        `Event '${String(name)}' already has a schema; define each event once, in the module that owns it.`,
      )
    }
    this.#schemas.set(name, schema)
  }

  /** Adds a handler; the returned function removes it (calling it again does nothing). */
  subscribe<K extends keyof EventMap>(name: K, handler: EventHandler<K>): () => void {
    const subscription: Subscription = { handler: handler as Subscription['handler'] }
    const list = this.#handlers.get(name)
    // Copy on write: a publish in progress keeps iterating the list it started with.
    this.#handlers.set(name, list ? [...list, subscription] : [subscription])
    return () => {
      const current = this.#handlers.get(name)
      if (!current?.includes(subscription)) return
      const rest = current.filter((entry) => entry !== subscription)
      if (rest.length > 0) this.#handlers.set(name, rest)
      else this.#handlers.delete(name)
    }
  }

  /**
   * Runs every handler of the event in subscription order and waits for them. Rejects only when
   * the payload fails the event's schema (a `ValidationError`); handler failures are logged.
   */
  async publish<K extends keyof EventMap>(name: K, payload: EventMap[K]): Promise<void> {
    const schema = this.#schemas.get(name)
    let value: unknown = payload
    if (schema) {
      const parsed = schema.safeParse(payload)
      if (!parsed.success) {
        throw ValidationError.fromZod(
          parsed.error,
          `Event '${String(name)}' has an invalid payload.`,
        )
      }
      value = parsed.data
    }
    const handlers = this.#handlers.get(name)
    if (!handlers) return
    for (const { handler } of handlers) {
      try {
        await handler(value, name)
      } catch (err) {
        this.#logger.error(
          { err, event: String(name) },
          `A handler of event '${String(name)}' failed.`,
        )
      }
    }
  }

  /** The number of handlers subscribed to the event. */
  listenerCount(name: keyof EventMap): number {
    return this.#handlers.get(name)?.length ?? 0
  }
}

/**
 * The app's {@link EventBus}.
 *
 * @example
 * ```ts
 * import { EVENT_BUS } from '@mortar/core'
 *
 * await app.resolve(EVENT_BUS).publish('order.placed', { orderId: 'o-1' })
 * ```
 */
export const EVENT_BUS = globalToken<EventBus>('mortar.event_bus')
