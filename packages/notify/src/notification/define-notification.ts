import { ValidationError } from '@mortar/core'
import type { z } from 'zod'
import type { ChannelMessages, ChannelName, RendererName } from '../channels/channel.js'
import {
  type DigestEntry,
  Notification,
  type NotificationFields,
  type RenderContext,
} from './notification.js'
import { NotifyConfigError } from '../errors.js'
import type { Recipient } from './recipient.js'

/** The options of {@link defineNotification} besides the renderers. */
export interface NotificationDefinition<
  S extends z.ZodType,
  R extends Recipient,
  C extends ChannelName,
> {
  /** The type the ledger and events record (`'order.shipped'`). */
  readonly type: string
  /** Validates the data each notification is made with; a mismatch throws a `ValidationError`. */
  readonly schema: S
  /** The category preferences, quiet hours and throttles apply to. */
  readonly category?: string
  /** The idempotency key of a notification with this data (see {@link Notification.key}). */
  readonly key?: (data: z.output<S>) => string | undefined
  /** Sends this data to a digest instead of alone (see {@link Notification.digest}). */
  readonly digest?: (data: z.output<S>) => DigestEntry | undefined
  /** Every channel this notification may go out on; each needs its renderer. */
  readonly channels: readonly C[]
  /** Picks among `channels` for this recipient and data; all of them when absent. */
  readonly via?: (recipient: R, data: z.output<S>) => readonly NoInfer<C>[]
}

type AllRenderers<S extends z.ZodType, R> = {
  readonly [K in ChannelName as RendererName<K>]: (
    data: z.output<S>,
    recipient: R,
    context: RenderContext,
  ) => ChannelMessages[K] | Promise<ChannelMessages[K]>
}

/**
 * One renderer per channel listed: `toMail(data, recipient, context)`, … (a plain mapped type
 * over the renderer names, so each renderer's parameters are typed from context).
 */
export type DefinedRenderers<S extends z.ZodType, R, C extends ChannelName> = {
  readonly [P in RendererName<C>]: AllRenderers<S, R>[P & keyof AllRenderers<S, R>]
}

/** A notification made by a class from {@link defineNotification}: its data is kept as `data`. */
export type DefinedNotification<
  S extends z.ZodType,
  R extends Recipient,
  C extends ChannelName,
> = Notification<R> &
  NotificationFields & {
    readonly data: z.output<S>
    via(recipient: R): readonly C[]
  } & {
    readonly [K in C as RendererName<K>]: (
      recipient: R,
      context: RenderContext,
    ) => ChannelMessages[K] | Promise<ChannelMessages[K]>
  }

/** The class {@link defineNotification} returns. */
export interface DefinedNotificationClass<
  S extends z.ZodType,
  R extends Recipient,
  C extends ChannelName,
> {
  new (data: z.input<S>): DefinedNotification<S, R, C>
  /** The type given to {@link defineNotification}. */
  readonly type: string
}

/**
 * Defines a notification from plain functions instead of a class: the data is validated by a
 * zod schema, `channels` lists where it may go (`via` picks among them per recipient), and every
 * channel listed needs its renderer (leaving one out does not compile). Returns a class, so tests and fakes match on it.
 *
 * @example
 * ```ts
 * import { defineNotification } from '@mortar/notify'
 * import { z } from 'zod'
 *
 * export const OrderShipped = defineNotification({
 *   type: 'order.shipped',
 *   schema: z.object({ orderId: z.string(), carrier: z.string() }),
 *   category: 'orders',
 *   key: (order) => `shipped:${order.orderId}`,
 *   channels: ['mail', 'sms'],
 *   via: (recipient) => (recipient.phone ? ['mail', 'sms'] : ['mail']),
 *   toMail: (order) => ({ subject: `Order ${order.orderId} shipped`, text: `By ${order.carrier}.` }),
 *   toSms: (order) => ({ text: `Order ${order.orderId} is on its way.` }),
 * })
 *
 * await notify(user, new OrderShipped({ orderId: 'o-1', carrier: 'DHL' }))
 * ```
 */
export function defineNotification<
  S extends z.ZodType,
  const C extends ChannelName,
  R extends Recipient = Recipient,
>(
  definition: NotificationDefinition<S, R, C> & DefinedRenderers<S, R, C>,
): DefinedNotificationClass<S, R, C> {
  const { type, schema, category } = definition
  if (typeof type !== 'string' || type.trim() === '') {
    throw new NotifyConfigError(
      'defineNotification needs a non-empty type, such as "order.shipped".',
    )
  }
  const renderers = Object.entries(definition).filter(
    ([name, value]) => /^to[A-Z]/.test(name) && typeof value === 'function',
  ) as [string, (data: unknown, recipient: R, context: RenderContext) => unknown][]

  class Defined extends Notification<R> {
    static readonly type = type
    readonly data: z.output<S>

    constructor(input: z.input<S>) {
      super()
      const parsed = schema.safeParse(input)
      if (!parsed.success) {
        throw ValidationError.fromZod(parsed.error, `Notification '${type}' has invalid data.`)
      }
      this.data = parsed.data
      const self = this as unknown as Record<string, unknown>
      self.type = type
      self.category = category
      self.key = definition.key?.(this.data)
      self.digest = definition.digest?.(this.data)
      for (const [name, render] of renderers) {
        self[name] = (recipient: R, context: RenderContext) => render(this.data, recipient, context)
      }
    }

    via(recipient: R): readonly C[] {
      return definition.via?.(recipient, this.data) ?? definition.channels
    }
  }
  Object.defineProperty(Defined, 'name', { value: type })
  return Defined as unknown as DefinedNotificationClass<S, R, C>
}
