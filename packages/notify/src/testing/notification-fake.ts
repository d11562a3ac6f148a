import { AssertionError } from 'node:assert'
import { afterCommit, isTimeZone } from '@mortar/core'
import { NotifyConfigError } from '../errors.js'
import type { AnyChannel, ChannelMessages, ChannelName } from '../channels/channel.js'
import type { Digest } from '../digest/define-digest.js'
import { DigestNotification } from '../digest/digest-notification.js'
import { checkDigested } from '../ledger/ledger-notifier.js'
import { channelMap } from '../module/channel-map.js'
import type {
  ChannelsOf,
  CheckNotification,
  Notification,
  RecipientOf,
} from '../notification/notification.js'
import { notificationFields, notificationType } from '../notification/notification.js'
import type {
  DeliveryOutcome,
  Notifier,
  NotifyResult,
  Recipients,
} from '../notification/notifier.js'
import { checkRecipient, distinctRecipients, type Recipient } from '../notification/recipient.js'
import { channelsFor, prepareMessage } from '../notification/render.js'
import {
  asksExistence,
  preferenceHold,
  RECIPIENT_GONE,
  throttleHold,
  throttleWindowStart,
} from '../ledger/delivery-policy.js'
import type { CategoryOptions, PreferenceEntry } from '../preferences/preference-policy.js'

/** A notification the {@link NotificationFake} recorded for one recipient, with its rendered messages. */
export interface SentNotification<N> {
  readonly notification: N
  readonly recipient: RecipientOf<N> & Recipient
  /** The channels `via()` returned for this recipient. */
  readonly channels: readonly ChannelsOf<N>[]
  /**
   * The message rendered for `channel`, typed by the channel (`message('mail').subject`), as the
   * channel gets it: read back from its JSON, as the ledger stores it (a `Date` is a string
   * there). Throws when the notification did not go to this recipient on that channel, or
   * would not have gone out there (its renderer failed, no address, the channel refused it).
   */
  message<C extends ChannelsOf<N>>(channel: C): ChannelMessages[C]
}

/** A class of notifications (`OrderShipped`), as the fake's assertions take it. */
export type NotificationClass<N> = abstract new (...args: never[]) => N

/** Options of {@link NotificationFake}. */
export interface NotificationFakeOptions {
  /**
   * The channels of the app's `notifyModule` (the same list): a message is routed and checked
   * by its channel as `notify()` does, so a recipient without an address on it, a message the
   * channel refuses (a subject with a line break) or a channel the app lacks is not sent here
   * either. Nothing is sent through them.
   */
  readonly channels: readonly AnyChannel[]
  /**
   * The digests of the app's `notifyModule` (the same list): a notification that joins one not
   * among them is refused as `notify()` refuses it (`E_NOTIFY_CONFIG`). None by default.
   */
  readonly digests?: readonly Digest[]
  /** The locale renderers get when a recipient has none; `'en'` by default. */
  readonly defaultLocale?: string
  /** The time zone renderers get when a recipient has none (the module's); `'UTC'` by default. */
  readonly defaultTimeZone?: string
  /**
   * The categories of the app's `notifyModule` (the same object): critical and required ones
   * ignore opt-outs, a throttled one lets `limit` through per recipient and channel in each
   * window, as the ledger does. None by default.
   */
  readonly categories?: Readonly<Record<string, CategoryOptions>>
  /**
   * Where recipients' choices are read (the app's `PREFERENCES`, or a stand-in with `list`): an
   * opt-out holds a message back as the ledger's delivery job does. None by default.
   */
  readonly preferences?: {
    list(recipientId: string): readonly PreferenceEntry[] | Promise<readonly PreferenceEntry[]>
  }
  /** The module's `recipientExists`: a recipient it says is gone gets nothing. */
  readonly recipientExists?: (recipientId: string) => boolean | Promise<boolean>
  /** The clock that places a throttled delivery in its window (the app's); `Date.now` by default. */
  readonly clock?: { nowMs(): number }
}

interface Recorded {
  readonly notification: Notification<never>
  readonly recipient: Recipient
  /** The digest it joined (it goes out in that digest's batch, whatever `via()` says). */
  readonly digest: string | undefined
  readonly channels: readonly ChannelName[]
  /**
   * Each channel's message, or why it would not go out; for a digest's item, its batch's
   * message on each of the digest's channels.
   */
  readonly messages: Map<ChannelName, RecordedMessage>
}

type RecordedMessage = { ok: true; message: unknown } | { ok: false; reason: string }

/**
 * A {@link Notifier} for tests (Laravel's `Notification::fake()`): sends nothing, records each
 * notification per recipient with every channel's rendered message, once the surrounding
 * transaction commits (a rolled-back transaction or savepoint records nothing, as the ledger
 * would send nothing). It "sends" then, as a worker that runs the delivery jobs at once: the
 * idempotency keys, `recipientExists`, preferences and throttles are read at the commit, as
 * the delivery job reads them when it runs (an opt-out saved after `notify()` in the same
 * transaction holds it back). A digest's item counts as sent when its batch would go out on
 * one of the digest's channels, checked as any other delivery. Bind it over `NOTIFIER` and assert. Give it the app's channels: each message is
 * routed and checked by its channel as `notify()` does. A recipient counts as sent to when at
 * least one of its messages would go out, or the notification joined a digest: one whose
 * `via()` named no channel, or none it had an address on, or whose every message failed (a
 * renderer that threw, a message its channel refuses) got nothing from the ledger and gets
 * nothing here (the reasons show in the assertions' messages). A notification with a `key` is
 * recorded once per recipient and channel, as the ledger delivers it. Its fields are checked
 * as `notify()` checks them.
 *
 * @example
 * ```ts
 * import { NOTIFIER } from '@mortar/notify'
 * import { NotificationFake } from '@mortar/notify/testing'
 * import { createTestApp } from '@mortar/core/testing'
 *
 * const fake = new NotificationFake({ channels }) // the notify module's
 * const app = createTestApp({ modules, overrides: (b) => b.bind(NOTIFIER, { useValue: fake }) })
 * await app.start()
 * await app.resolve(Checkout).placeOrder(ada, cart)
 * fake.assertSentTo(ada, OrderPlaced, (sent) => sent.message('mail').subject.includes('o-1'))
 * fake.assertSentTimes(OrderPlaced, 1)
 * ```
 */
export class NotificationFake implements Notifier {
  readonly #channels: ReadonlyMap<ChannelName, AnyChannel>
  readonly #defaultLocale: string
  readonly #defaultTimeZone: string | undefined
  readonly #digests: ReadonlyMap<string, Digest>
  readonly #categories: Readonly<Record<string, CategoryOptions>>
  readonly #preferences: NotificationFakeOptions['preferences']
  readonly #recipientExists: NotificationFakeOptions['recipientExists']
  readonly #clock: { nowMs(): number }
  #recorded: Recorded[] = []
  readonly #keys = new Set<string>()
  // Deliveries counted per throttle window, as the ledger's counters.
  readonly #throttled = new Map<string, number>()

  constructor(options: NotificationFakeOptions) {
    this.#channels = channelMap(options?.channels, 'NotificationFake')
    this.#defaultLocale = options.defaultLocale ?? 'en'
    if (options.defaultTimeZone !== undefined && !isTimeZone(options.defaultTimeZone)) {
      throw new NotifyConfigError(
        `NotificationFake: defaultTimeZone '${options.defaultTimeZone}' is not a time zone.`,
      )
    }
    this.#defaultTimeZone = options.defaultTimeZone
    this.#digests = new Map((options.digests ?? []).map((digest) => [digest.key, digest]))
    this.#categories = options.categories ?? {}
    this.#preferences = options.preferences
    this.#recipientExists = options.recipientExists
    this.#clock = options.clock ?? { nowMs: () => Date.now() }
  }

  async notify<N extends Notification<never>>(
    recipients: Recipients<N>,
    notification: N & CheckNotification<N>,
  ): Promise<NotifyResult> {
    const list: readonly Recipient[] = Array.isArray(recipients)
      ? recipients
      : [recipients as Recipient]
    // The same refusal as the real notify(): a test must not pass where production throws.
    for (const recipient of list) checkRecipient(recipient)
    const fields = notificationFields(notification)
    const digest = fields.digest === undefined ? undefined : this.#digests.get(fields.digest.key)
    // notify() throws for a digest its module lacks: a test must not record it as sent.
    if (fields.digest !== undefined && digest === undefined) {
      throw new NotifyConfigError(
        `No digest '${fields.digest.key}' is registered: add it to notifyModule({ digests }) and NotificationFake({ digests }).`,
      )
    }
    // A category or channels of its own beside a digest: refused as notify() refuses them.
    if (digest !== undefined) checkDigested(notification, digest, list)
    const category = digest === undefined ? fields.category : (digest.category ?? 'default')
    const recorded: Recorded[] = []
    const deliveries: DeliveryOutcome[] = []
    for (const recipient of distinctRecipients(list)) {
      if (
        digest !== undefined &&
        this.#places(recipient.id, fields.key, digest.key, []).some((p) => this.#keys.has(p))
      )
        continue
      // A digest's item goes out in the recipient's batch, on the digest's channels, rendered
      // as the batch's close renders it (here with this item alone).
      const rendered =
        digest === undefined
          ? notification
          : new DigestNotification(digest, 'fake', [fields.digest?.item])
      const channels = (
        digest === undefined ? channelsFor(notification, recipient) : [...digest.channels]
      ).filter((channel) => {
        const [place] = this.#places(recipient.id, fields.key, undefined, [channel])
        if (digest !== undefined || place === undefined || !this.#keys.has(place)) return true
        deliveries.push({
          id: 'fake-duplicate',
          recipientId: recipient.id,
          channel,
          status: 'duplicate',
        })
        return false
      })
      if (fields.key !== undefined && digest === undefined && channels.length === 0) continue
      const messages = new Map<ChannelName, RecordedMessage>()
      for (const channel of channels) {
        const prepared = await prepareMessage(
          rendered,
          recipient,
          channel,
          this.#channels.get(channel),
          { locale: this.#defaultLocale, timeZone: this.#defaultTimeZone },
        )
        // What the channel would get: the ledger stores the message as JSON and sends that.
        messages.set(
          channel,
          prepared.ok
            ? { ok: true, message: JSON.parse(prepared.json) as unknown }
            : { ok: false, reason: prepared.reason },
        )
        if (digest !== undefined) continue
        deliveries.push({
          id: `fake-${this.#recorded.length + recorded.length}-${channel}`,
          recipientId: recipient.id,
          channel,
          status: prepared.ok ? 'queued' : prepared.status,
          reason: prepared.ok ? undefined : prepared.reason,
        })
      }
      recorded.push({ notification, recipient, digest: digest?.key, channels, messages })
    }
    // Sent once the transaction commits, as the ledger's job runs after it: keys, existence,
    // preferences and throttles are decided then, in the order of the calls, as the job decides
    // them (an opt-out saved after notify() in the same transaction holds it back; a savepoint
    // rolled back, or an outer rollback, drops it with the rows the ledger wrote there).
    await afterCommit(async () => {
      for (const entry of recorded) await this.#deliver(entry, fields.key, category)
    })
    return { deliveries }
  }

  /**
   * Records `entry` as the ledger's delivery jobs would send it: once per idempotency key, and
   * each message held back as the job holds it back (see delivery-policy.ts).
   */
  async #deliver(entry: Recorded, key: string | undefined, category: string): Promise<void> {
    const { recipient, messages } = entry
    const places = this.#places(recipient.id, key, entry.digest, entry.channels)
    // A key taken meanwhile (by a call of the same transaction, or another committed first).
    if (entry.digest !== undefined && places.some((place) => this.#keys.has(place))) return
    for (const [index, place] of places.entries()) {
      if (entry.digest === undefined && this.#keys.has(place)) {
        messages.delete(entry.channels[index] as ChannelName)
      }
    }
    for (const place of places) this.#keys.add(place)
    if (key !== undefined && entry.digest === undefined && messages.size === 0) return
    if (entry.digest === undefined && entry.channels.length === 0) return
    const going = [...messages].filter(([, message]) => message.ok).map(([channel]) => channel)
    const gone =
      going.length > 0 &&
      this.#recipientExists !== undefined &&
      asksExistence(recipient.id) &&
      (await this.#recipientExists(recipient.id)) !== true
    const choices =
      going.length === 0 || gone || this.#preferences === undefined
        ? []
        : await this.#preferences.list(recipient.id)
    for (const channel of going) {
      const held = gone
        ? RECIPIENT_GONE
        : (preferenceHold(recipient.id, category, channel, this.#categories, choices) ??
          this.#throttleHold(recipient.id, category, channel))
      if (held !== undefined) messages.set(channel, { ok: false, reason: held })
    }
    this.#recorded.push(entry)
  }

  /** Where a keyed notification went (recipient × channel, or its digest): once, as the ledger. */
  #places(
    recipientId: string,
    key: string | undefined,
    digest: string | undefined,
    channels: readonly ChannelName[],
  ): string[] {
    if (key === undefined) return []
    return (digest === undefined ? channels : [`digest:${digest}`]).map((place) =>
      JSON.stringify([recipientId, place, key]),
    )
  }

  /** What was recorded of `type`, for `recipient` (or its id) when given, in order. */
  sent<N>(type: NotificationClass<N>, recipient?: Recipient | string): SentNotification<N>[] {
    const id = typeof recipient === 'string' ? recipient : recipient?.id
    return this.#sent()
      .filter(
        (entry) =>
          entry.notification instanceof type && (id === undefined || entry.recipient.id === id),
      )
      .map((entry) => toSent<N>(entry))
  }

  /** Fails unless `recipient` got a notification of `type` (that `matches`, when given). */
  assertSentTo<N>(
    recipient: Recipient | string,
    type: NotificationClass<N>,
    matches?: (sent: SentNotification<N>) => boolean,
  ): void {
    const found = this.sent(type, recipient).filter((sent) => matches?.(sent) ?? true)
    if (found.length === 0) {
      throw new AssertionError({
        message: `Expected ${describe(type)} to be sent to '${idOf(recipient)}'${matches ? ' matching the predicate' : ''}; ${this.#summary()}`,
      })
    }
  }

  /** Fails when `recipient` got a notification of `type` (that `matches`, when given). */
  assertNotSentTo<N>(
    recipient: Recipient | string,
    type: NotificationClass<N>,
    matches?: (sent: SentNotification<N>) => boolean,
  ): void {
    const found = this.sent(type, recipient).filter((sent) => matches?.(sent) ?? true)
    if (found.length > 0) {
      throw new AssertionError({
        message: `Expected ${describe(type)} not to be sent to '${idOf(recipient)}', but it was ${found.length} time(s).`,
      })
    }
  }

  /** Fails unless notifications of `type` were recorded exactly `times` times (one per recipient). */
  assertSentTimes<N>(type: NotificationClass<N>, times: number): void {
    const count = this.sent(type).length
    if (count !== times) {
      throw new AssertionError({
        message: `Expected ${describe(type)} to be sent ${times} time(s), but it was ${count}.`,
        actual: count,
        expected: times,
      })
    }
  }

  /** Fails when anything was sent. */
  assertNothingSent(): void {
    if (this.#sent().length > 0) {
      throw new AssertionError({ message: `Expected no notification; ${this.#summary()}` })
    }
  }

  /** Forgets everything recorded, idempotency keys and throttle counts included. */
  reset(): void {
    this.#recorded = []
    this.#keys.clear()
    this.#throttled.clear()
  }

  /**
   * Counts a message that would go out against its category's throttle, as the delivery job
   * counts it when it runs, and says why it is held back once past the limit.
   */
  #throttleHold(recipientId: string, category: string, channel: ChannelName): string | undefined {
    const throttle = this.#categories[category]?.throttle
    if (throttle === undefined) return undefined
    const windowStart = throttleWindowStart(throttle, this.#clock.nowMs())
    const key = JSON.stringify([recipientId, category, channel, windowStart])
    const count = (this.#throttled.get(key) ?? 0) + 1
    this.#throttled.set(key, count)
    return throttleHold(throttle, count, category, channel)
  }

  /**
   * What went out: the recorded notifications with a message that would go out, a digest's item
   * with its batch's (the ledger checks a batch's deliveries as any other).
   */
  #sent(): Recorded[] {
    return this.#recorded.filter((entry) => [...entry.messages.values()].some((m) => m.ok))
  }

  #summary(): string {
    const sent = this.#sent()
    const line = (entry: Recorded) =>
      `${notificationType(entry.notification)} to '${entry.recipient.id}'`
    const failed = this.#recorded
      .filter((entry) => !sent.includes(entry))
      .map((entry) => {
        const reasons = [...entry.messages.values()].flatMap((m) => (m.ok ? [] : [m.reason]))
        return `${line(entry)} (${reasons.join('; ')})`
      })
    const said = sent.length === 0 ? 'nothing was sent' : `sent: ${sent.map(line).join(', ')}`
    return failed.length === 0 ? `${said}.` : `${said}; sent on no channel: ${failed.join(', ')}.`
  }
}

function toSent<N>(entry: Recorded): SentNotification<N> {
  return {
    notification: entry.notification as N,
    recipient: entry.recipient as RecipientOf<N> & Recipient,
    channels: (entry.digest === undefined ? entry.channels : []) as ChannelsOf<N>[],
    message<C extends ChannelsOf<N>>(channel: C): ChannelMessages[C] {
      const rendered = entry.digest === undefined ? entry.messages.get(channel) : undefined
      if (rendered === undefined) {
        throw new AssertionError({
          message: `${notificationType(entry.notification)} did not go to '${entry.recipient.id}' on '${channel}' (${entry.digest === undefined ? `only ${entry.channels.join(', ') || 'no channel'}` : `it joined the digest '${entry.digest}'`}).`,
        })
      }
      if (!rendered.ok) {
        throw new AssertionError({
          message: `${notificationType(entry.notification)} did not go out on '${channel}': ${rendered.reason}`,
        })
      }
      return rendered.message as ChannelMessages[C]
    },
  }
}

function describe(type: NotificationClass<unknown>): string {
  return (type as unknown as { type?: string }).type ?? type.name
}

function idOf(recipient: Recipient | string): string {
  return typeof recipient === 'string' ? recipient : recipient.id
}
