import { hasLoneSurrogate, ValidationError } from '@mortar/core'
import type { ChannelMessages, ChannelName, RendererName } from '../channels/channel.js'
import type { Recipient } from './recipient.js'

/** What a renderer (`toMail`, `toSms`, …) knows besides the recipient. */
export interface RenderContext {
  /** The locale the message is written in: the recipient's, else the notify module's default. */
  readonly locale: string
  /**
   * The recipient's IANA time zone, else the notify module's `defaultTimeZone` (`'UTC'` unless
   * set): the zone their quiet hours and daily digests are placed in. Format dates with it.
   */
  readonly timeZone: string
  /** The channel being rendered. */
  readonly channel: ChannelName
}

/** A digest entry: the notification joins the recipient's open batch of `key` instead of going out alone. */
export interface DigestEntry {
  /** The digest's name, as registered with `defineDigest`. */
  readonly key: string
  /** What the digest's renderer receives for this notification (JSON). */
  readonly item: unknown
}

/**
 * A notification: `via()` names the channels it goes out on for a recipient, and one renderer
 * per channel (`toMail`, `toSms`, `toWebhook`, `toChat`, `toInbox`) writes that channel's
 * message. `notify()` refuses at compile time a notification whose `via()` can return a channel
 * it has no renderer for. Return the channels `as const` so their names are kept.
 *
 * @example
 * ```ts
 * import { Notification, type RenderContext, type Recipient } from '@mortar/notify'
 *
 * export class OrderShipped extends Notification {
 *   readonly type = 'order.shipped'
 *   readonly category = 'orders'
 *   constructor(readonly order: { id: string; carrier: string }) { super() }
 *
 *   via(recipient: Recipient) {
 *     return recipient.phone ? (['mail', 'sms'] as const) : (['mail'] as const)
 *   }
 *   toMail(_recipient: Recipient, { locale }: RenderContext) {
 *     return { subject: `Order ${this.order.id} shipped`, text: `By ${this.order.carrier}.` }
 *   }
 *   toSms() {
 *     return { text: `Order ${this.order.id} is on its way.` }
 *   }
 * }
 * ```
 */
export abstract class Notification<R extends Recipient = Recipient> {
  /** The channels to send on for this recipient. */
  abstract via(recipient: R): readonly ChannelName[]
}

/**
 * What a notification may declare besides `via()` and its renderers, as plain fields (no
 * `override` needed): `type`, recorded in the ledger and events (the class name when unset; set
 * it when the name may change in a minified build); `category`, which preferences, quiet hours
 * and throttles apply to (`'default'` when unset); `key`, the idempotency key (the same key to
 * the same recipient on the same channel is delivered once however often `notify()` runs);
 * `digest`, which makes it part of a digest instead of a message of its own.
 */
export interface NotificationFields {
  readonly type?: string | undefined
  readonly category?: string | undefined
  readonly key?: string | undefined
  readonly digest?: DigestEntry | undefined
}

/** The channels a notification's `via()` can return. */
export type ChannelsOf<N> = N extends { via(...args: never[]): readonly (infer C)[] }
  ? C & ChannelName
  : never

/** The recipient type a notification's `via()` takes. */
export type RecipientOf<N> = N extends { via(recipient: infer R): unknown } ? R : Recipient

/** A renderer of channel `C` as a notification declares it. */
export type Renderer<C extends ChannelName, R = Recipient> = (
  recipient: R,
  context: RenderContext,
) => ChannelMessages[C] | Promise<ChannelMessages[C]>

type RendererProblem<N, C extends ChannelName> =
  RendererName<C> extends keyof N
    ? N[RendererName<C>] extends Renderer<C, never>
      ? never
      : `${RendererName<C>}() must return ChannelMessages['${C}'] (or a promise of it)`
    : `via() can return '${C}' but the notification has no ${RendererName<C>}()`

type Problems<N> = { [C in ChannelsOf<N>]: RendererProblem<N, C> }[ChannelsOf<N>]

/**
 * `unknown` for a notification with a renderer for every channel its `via()` can return, else a
 * sentence saying which one is missing. Parameters typed `N & CheckNotification<N>` make a
 * wrong notification fail to compile with that sentence.
 */
export type CheckNotification<N> = [Problems<N>] extends [never] ? unknown : Problems<N>

// The ledger's type, category and idempotency_key columns are varchar(191).
const MAX_FIELD_LENGTH = 191

/**
 * The fields of a notification (see {@link NotificationFields}), checked: one the ledger cannot
 * store is a `ValidationError` (`E_VALIDATION`, the field as its path), whatever the engine.
 */
export function notificationFields(notification: Notification<never>): {
  readonly type: string
  readonly category: string
  readonly key: string | undefined
  readonly digest: DigestEntry | undefined
} {
  const fields = notification as NotificationFields
  const digest = fields.digest ?? undefined
  if (
    digest !== undefined &&
    (typeof digest !== 'object' || typeof digest.key !== 'string' || digest.key === '')
  ) {
    throw notificationError(notification, 'digest', 'must be { key, item }')
  }
  return {
    type: storedField(notification, 'type') ?? notification.constructor.name,
    category: storedField(notification, 'category') ?? 'default',
    key: storedField(notification, 'key'),
    digest,
  }
}

/**
 * A text field as the ledger stores it, or undefined when unset. Stored as given: a NUL fails
 * PostgreSQL, a lone surrogate becomes U+FFFD, and two keys that differ only there would be one
 * (the second notification dropped as a duplicate). A function of the module, not a closure of
 * notificationFields: the build names each closure it makes at run time, on every notify().
 */
function storedField(
  notification: Notification<never>,
  name: 'type' | 'category' | 'key',
): string | undefined {
  const value: unknown = (notification as NotificationFields)[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || !storable(value)) {
    throw notificationError(
      notification,
      name,
      `must be a non-empty string of at most ${MAX_FIELD_LENGTH} characters, without NUL or a lone surrogate`,
    )
  }
  return value
}

/**
 * Whether the ledger stores `value` as given: non-empty, at most 191 characters (code points, as
 * the columns count them), no NUL, no lone surrogate. What `safeText` checks, without a schema's
 * run on every notify().
 */
function storable(value: string): boolean {
  return (
    value !== '' &&
    (value.length <= MAX_FIELD_LENGTH || [...value].length <= MAX_FIELD_LENGTH) &&
    !value.includes('\u0000') &&
    !hasLoneSurrogate(value)
  )
}

/**
 * What notify() (and the fake) throw for a notification the ledger cannot take: a typed error
 * with a stable code, as for a bad recipient, never a bare `TypeError` nor the database's error.
 */
export function notificationError(
  notification: Notification<never>,
  field: string,
  problem: string,
): ValidationError {
  return new ValidationError(
    [{ path: field, message: problem, code: 'invalid' }],
    `notify(): ${notification.constructor.name}.${field} ${problem}.`,
  )
}

/** The type a notification is recorded under: its `type`, else its class name. */
export function notificationType(notification: Notification<never>): string {
  const type = (notification as NotificationFields).type
  return typeof type === 'string' && type !== '' ? type : notification.constructor.name
}
