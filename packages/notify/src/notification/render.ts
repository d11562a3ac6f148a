import { hasLoneSurrogate, thrownText } from '@mortar/core'
import type { AnyChannel, ChannelMessages, ChannelName } from '../channels/channel.js'
import { refusal } from '../channels/channel-refusal.js'
import {
  type Notification,
  notificationError,
  notificationFields,
  type RenderContext,
} from './notification.js'
import { addressOf, type Recipient } from './recipient.js'
import { withoutAddress } from './shown-address.js'

/** A renderer's result: the message and its JSON (as the ledger stores it), or why there is none. */
export type Rendered<C extends ChannelName> =
  | { readonly ok: true; readonly message: ChannelMessages[C]; readonly json: string }
  | { readonly ok: false; readonly reason: string }

// Renderer names by channel, made once: a name built on every render is a new string that each
// property read by it must first look up among the runtime's strings.
const rendererNames = new Map<string, string>()
const MAX_RENDERER_NAMES = 256

/** The name of `channel`'s renderer: `toMail` for `mail`. */
export function rendererName(channel: ChannelName): string {
  let name = rendererNames.get(channel)
  if (name === undefined) {
    name = `to${channel[0]?.toUpperCase()}${channel.slice(1)}`
    if (rendererNames.size < MAX_RENDERER_NAMES) rendererNames.set(channel, name)
  }
  return name
}

/**
 * The channels of `notification` for `recipient`, deduplicated, in `via()` order. A name that no
 * channel could have (see {@link isChannelName}) is a `ValidationError`: the ledger's
 * `channel` column could not store it (PostgreSQL and MariaDB refused the whole notify() with
 * their own error, SQLite kept it).
 */
export function channelsFor(
  notification: Notification<never>,
  recipient: Recipient,
): ChannelName[] {
  const channels: unknown = (notification as Notification<Recipient>).via(recipient)
  if (!Array.isArray(channels)) {
    throw notificationError(notification, 'via()', 'must return an array of channel names')
  }
  for (const name of channels) {
    if (!isChannelName(name)) {
      throw notificationError(notification, 'via()', `returned ${shownName(name)}, ${NOT_A_NAME}`)
    }
  }
  return [...new Set(channels as ChannelName[])]
}

// The ledger's, preferences' and throttles' channel columns are varchar(32).
const MAX_CHANNEL_NAME = 32

/**
 * True for text that can name a channel: 1 to 32 characters without control characters or a
 * lone surrogate, which every engine stores as given and a reason or the CLI prints on one line.
 */
export function isChannelName(name: unknown): name is ChannelName {
  return (
    typeof name === 'string' &&
    name.length >= 1 &&
    name.length <= MAX_CHANNEL_NAME &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    !/[\u0000-\u001f\u007f-\u009f]/.test(name) &&
    !hasLoneSurrogate(name)
  )
}

/** What a channel name must be, for the errors that refuse one. */
export const NOT_A_NAME = `which is no channel name (text of 1 to ${MAX_CHANNEL_NAME} characters, no control characters)`

/** A refused channel name as an error shows it: quoted and cut, its control characters escaped. */
export function shownName(name: unknown): string {
  return typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : String(name)
}

/**
 * The largest message (as JSON, in UTF-8) the ledger stores: 10 MiB, with room for the rest of
 * its row in MySQL/MariaDB's default 16 MiB packet.
 */
const MAX_MESSAGE_BYTES = 10 * 1024 * 1024

/**
 * Calls the notification's renderer for `channel`. A missing renderer, one that throws and a
 * message that is not JSON (a BigInt, a cycle: the ledger stores messages as JSON) are a reason,
 * not an exception: the ledger records that delivery as dead and sends the others.
 */
export async function renderMessage<C extends ChannelName>(
  notification: Notification<never>,
  recipient: Recipient,
  channel: C,
  defaults: { readonly locale: string; readonly timeZone?: string | undefined },
): Promise<Rendered<C>> {
  const name = rendererName(channel)
  const renderer = (notification as unknown as Record<string, unknown>)[name]
  if (typeof renderer !== 'function') {
    return { ok: false, reason: `${notification.constructor.name} has no ${name}()` }
  }
  const context: RenderContext = {
    locale: recipient.locale ?? defaults.locale,
    timeZone: recipient.timeZone ?? defaults.timeZone ?? 'UTC',
    channel,
  }
  try {
    const message = (await renderer.call(notification, recipient, context)) as ChannelMessages[C]
    if (message === null || typeof message !== 'object') {
      return {
        ok: false,
        reason: `${name}() returned ${message === null ? 'null' : typeof message}, not a message`,
      }
    }
    let json: string | undefined
    try {
      json = JSON.stringify(message)
    } catch (error) {
      return {
        ok: false,
        reason: `${name}() returned a message that is not JSON: ${thrownText(error)}`,
      }
    }
    if (json === undefined) {
      return {
        ok: false,
        reason: `${name}() returned a message that is not JSON: its toJSON() gave nothing`,
      }
    }
    // Past it MySQL/MariaDB's mediumtext and default packet cannot take the row (the connection
    // was closed, failing the whole notify()), where the other engines stored it.
    if (json.length > MAX_MESSAGE_BYTES / 3 && Buffer.byteLength(json) > MAX_MESSAGE_BYTES) {
      return {
        ok: false,
        reason: `${name}() returned a message of over 10 MiB as JSON, more than the ledger stores on every engine`,
      }
    }
    return { ok: true, message, json }
  } catch (error) {
    return {
      ok: false,
      reason: `${name}() threw: ${thrownText(error)}`,
    }
  }
}

/**
 * One recipient × channel as `notify()` stores it: its address and message (as JSON), or why it
 * goes nowhere (`suppressed`: no address; `dead`: no such channel, a renderer that failed, a
 * message the channel refuses), with the address when it had one. The ledger and
 * `NotificationFake` both decide through it, so a test's fake refuses what the ledger would.
 */
export async function prepareMessage(
  notification: Notification<never>,
  recipient: Recipient,
  name: ChannelName,
  channel: AnyChannel | undefined,
  defaults: { readonly locale: string; readonly timeZone?: string | undefined },
): Promise<
  | { readonly ok: true; readonly address: string; readonly json: string }
  | {
      readonly ok: false
      readonly status: 'suppressed' | 'dead'
      readonly reason: string
      readonly address?: string
    }
> {
  if (channel === undefined) {
    return {
      ok: false,
      status: 'dead',
      reason: `no '${name}' channel is configured in the notify module`,
    }
  }
  const address = addressOf(recipient, channel as never, {
    category: notificationFields(notification).category,
  })
  if (address === undefined) {
    return { ok: false, status: 'suppressed', reason: `the recipient has no ${name} address` }
  }
  const rendered = await renderMessage(notification, recipient, name, defaults)
  if (!rendered.ok) return { ok: false, status: 'dead', reason: rendered.reason, address }
  const invalid = refusal(channel, rendered.message, address)
  if (invalid !== undefined) {
    return { ok: false, status: 'dead', reason: withoutAddress(invalid, address), address }
  }
  return { ok: true, address, json: rendered.json }
}
