import type { Key } from '@mortar/core'
import type { Recipient } from '../notification/recipient.js'
import type { ChatMessage } from './chat/chat-message.js'
import type { InboxMessage } from './inbox/inbox-message.js'
import type { MailMessage } from './mail/mail-message.js'
import type { SmsMessage } from './sms/sms-message.js'
import type { WebhookMessage } from './webhook/webhook-message.js'
import type { fallbackChannel } from './fallback-channel.js'

/**
 * The message each channel sends, by channel name. A notification's `toMail()` returns
 * `ChannelMessages['mail']`, and so on. A plugin adds a channel by declaration merging; its
 * renderer is then `to` + the capitalised name (`push` → `toPush()`).
 *
 * @example
 * ```ts
 * declare module '@mortar/notify' {
 *   interface ChannelMessages {
 *     push: { title: string; body: string }
 *   }
 * }
 * ```
 */
export interface ChannelMessages {
  mail: MailMessage
  sms: SmsMessage
  webhook: WebhookMessage
  chat: ChatMessage
  inbox: InboxMessage
}

/** The name of a channel: a key of {@link ChannelMessages}. */
export type ChannelName = keyof ChannelMessages & string

/** The renderer method a notification needs for channel `C`: `'mail'` → `'toMail'`. */
export type RendererName<C extends ChannelName> = `to${Capitalize<C>}`

/** One message on its way out through a {@link Channel}. */
export interface Outgoing<M> {
  /**
   * The delivery's id: the same on every retry of this delivery. A channel whose provider takes an
   * idempotency key sends it, so a retry after a crash is not a second message there.
   */
  readonly id: string
  /** Where to send: an address, a phone number, a URL, a recipient id (the inbox). */
  readonly to: string
  /** The rendered message. */
  readonly message: M
  /** The recipient's id (their key in the ledger, the inbox and preferences). */
  readonly recipientId: string
  /** The notification's type, as the ledger records it (`'order.shipped'`). */
  readonly type: string
  /** 1 on the first try, then 2, 3… */
  readonly attempt: number
  /**
   * Aborted when the delivery's job times out or the worker stops. Made when first read (the
   * ledger's is a getter): a copy made by spreading an outgoing send names it.
   */
  readonly signal: AbortSignal
  /**
   * Addresses besides `to` that a provider already took this message for (a mail's cc and bcc,
   * while it refused or held off `to`), in an earlier attempt of this delivery (a retry, a
   * replay) or through an earlier provider of a {@link fallbackChannel}: a channel that sends
   * to more than `to` leaves them out, so they get no second copy.
   */
  readonly sentTo?: readonly string[] | undefined
}

/**
 * What a channel reports for one send:
 * - `accepted`: the provider took the message (with its id, when it gives one);
 * - `transient`: it may work later (a 5xx, a timeout after the request went out): retried with
 *   backoff, never handed to a fallback provider, since the first one may have accepted it;
 * - `permanent`: it will never work (a bad address, a 4xx): dead at once, not retried (a
 *   fallback provider may be tried: this one did not take it);
 * - `not-accepted`: the provider certainly did not take it (connection refused, 429, 503,
 *   a 4xx SMTP reply): a fallback provider may be tried at once, otherwise retried.
 *
 * A `retryAfterMs` (a provider's `Retry-After`) makes the next attempt wait at least that long
 * (core's `RetryLaterJobError`, at most 24 hours).
 */
export type ChannelResult =
  | { readonly status: 'accepted'; readonly providerMessageId?: string | undefined }
  | ({ readonly status: 'transient'; readonly retryAfterMs?: number } & Unsent)
  | ({ readonly status: 'permanent' } & Unsent)
  | ({ readonly status: 'not-accepted'; readonly retryAfterMs?: number } & Unsent)

/** What a result that did not reach `to` says besides its status. */
interface Unsent {
  readonly reason: string
  /**
   * Addresses besides `to` that the provider took the message for while it did not take it for
   * `to` (a mail's cc and bcc): the ledger keeps them with the delivery (on a channel it marks,
   * see {@link Channel.idempotent}), and no later send of it (a fallback's next provider, a
   * retry, a replay) goes to them again (see {@link Outgoing.sentTo}).
   */
  readonly sentTo?: readonly string[] | undefined
}

/**
 * One way of reaching people: mail, SMS, a webhook, a chat room, the in-app inbox. Built-in
 * channels and plugins implement this interface and are checked by the same conformance kit
 * (`channelConformance` from `@mortar/notify/testing`).
 *
 * `send` reports every outcome as a {@link ChannelResult} and should not throw; a throw (or a
 * rejection) is recorded as a transient failure, retried (the message may or may not have
 * left), as is a send with no answer within {@link Channel.sendTimeoutMs}. Anything else it
 * resolves (`undefined`, an unknown status, a failure without its reason) is ambiguous: the
 * delivery is dead at once with a reason naming the channel and what it resolved, never retried
 * nor handed to a fallback provider (the provider may have taken it), and an admin replays it.
 *
 * @example
 * ```ts
 * import type { Channel, ChannelResult, Outgoing } from '@mortar/notify'
 *
 * class ConsoleSmsChannel implements Channel<'sms'> {
 *   readonly name = 'sms'
 *   route(recipient: { phone?: string }) { return recipient.phone }
 *   async send(outgoing: Outgoing<{ text: string }>): Promise<ChannelResult> {
 *     console.log(outgoing.to, outgoing.message.text)
 *     return { status: 'accepted' }
 *   }
 * }
 * ```
 */
export interface Channel<C extends ChannelName = ChannelName> {
  /** The channel's name; notifications name it in `via()`. */
  readonly name: C
  /**
   * The recipient's address on this channel when their `routes` do not name one (`email` for
   * mail, `phone` for SMS); `undefined` when they have none, which suppresses the delivery.
   * `notification` is the one being sent, for a channel whose address depends on what is sent
   * (chat's `defaultUrl` takes admin alerts only).
   */
  route(recipient: Recipient, notification?: { readonly category: string }): string | undefined
  /**
   * True when a message sent twice under one delivery id is one message for the recipient: the
   * channel gives the id to its provider as an idempotency key (SMS, webhooks) or stores the
   * message under it (the inbox). The ledger then writes nothing before a send; before a send
   * on any other channel (mail, chat) it marks the delivery `sending`, so that an attempt a
   * crash cut off between the provider's acceptance and the ledger's record is counted as a
   * possible duplicate. Only such a channel is given the addresses an earlier attempt reached
   * ({@link Outgoing.sentTo}): a resend on an idempotent one is no second message anyway.
   */
  readonly idempotent?: boolean
  /**
   * The longest one send may take, in ms, its I/O included (the channel's own timeouts bound
   * it); 30 000 when not given. The send is given up after it (its signal aborts), and the
   * ledger's `sending` mark lasts twice as long, so that a second run of the delivery's job
   * never sends beside a send still under way.
   */
  readonly sendTimeoutMs?: number
  /**
   * Checks a rendered message before it is stored: the reason it can never be sent, else
   * undefined. A refused message's delivery is `dead` when written, with the reason, and the
   * notification's other channels still go; a check that throws (a schema's `parse`), answers
   * anything but text or undefined, or an empty reason refuses it too, saying so.
   */
  validate?(message: ChannelMessages[C], to: string): string | undefined
  /** Sends one message. */
  send(outgoing: Outgoing<ChannelMessages[C]>): Promise<ChannelResult>
  /**
   * Prepares the channel when the notify module starts: loads a driver, resolves what it needs
   * from the app (the inbox its store). A failure here fails `app.start()`.
   */
  open?(app: ChannelHost): Promise<void>
  /** Releases pools and sockets; the notify module calls it on `app.stop()`. */
  close?(): Promise<void>
}

/** The bound of a send on a channel that names none (see {@link Channel.sendTimeoutMs}). */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000

/** Any channel, whatever its name. */
export type AnyChannel = { [C in ChannelName]: Channel<C> }[ChannelName]

/** What {@link Channel.open} may use of the app: its providers. */
export interface ChannelHost {
  resolve<T>(key: Key<T>): T
}
