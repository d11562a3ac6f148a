import type { ChannelName } from '../channels/channel.js'

/** How a category of notifications is treated. */
export interface CategoryOptions {
  /** Sent whatever the recipient's preferences and quiet hours say (a security alert, a login code). */
  readonly critical?: boolean
  /** The recipient cannot turn it off (receipts, legal notices); quiet hours still apply. */
  readonly required?: boolean
  /**
   * At most `limit` deliveries per recipient and channel in each fixed window of `windowMs`,
   * aligned to the Unix epoch (a day is a UTC day); the rest are suppressed. Not a sliding
   * window: across a boundary up to 2 × `limit` can go within `windowMs`. A delivery counts once, on its first attempt that gets to a result: its retries and replays
   * are not counted again.
   */
  readonly throttle?: { readonly limit: number; readonly windowMs: number }
}

/** One stored choice: a category (or `'*'`, every category) on a channel (or `'*'`), on or off. */
export interface PreferenceEntry {
  readonly category: string
  readonly channel: ChannelName | '*'
  readonly enabled: boolean
}

/** What the policy decided for one delivery. */
export type PreferenceDecision =
  | { readonly send: true; readonly bypassQuietHours: boolean }
  | { readonly send: false; readonly reason: string }

/**
 * Decides whether a delivery of `category` on `channel` is sent, from the category's options
 * and the recipient's stored choices. Critical categories are always sent and skip quiet hours;
 * required ones ignore opt-outs. Otherwise the most specific choice wins: this category on this
 * channel, this category on every channel, every category on this channel, everything; with
 * none, it is sent.
 *
 * @example
 * ```ts
 * import { decidePreference } from '@mortar/notify'
 *
 * decidePreference('marketing', 'sms', {}, [{ category: 'marketing', channel: '*', enabled: false }])
 * // { send: false, reason: "opted out of 'marketing' on every channel" }
 * ```
 */
export function decidePreference(
  category: string,
  channel: ChannelName,
  options: CategoryOptions,
  entries: readonly PreferenceEntry[],
): PreferenceDecision {
  if (options.critical === true) return { send: true, bypassQuietHours: true }
  if (options.required === true) return { send: true, bypassQuietHours: false }
  const find = (c: string, ch: string) =>
    entries.find((entry) => entry.category === c && entry.channel === ch)
  const choice =
    find(category, channel) ?? find(category, '*') ?? find('*', channel) ?? find('*', '*')
  if (choice === undefined || choice.enabled) return { send: true, bypassQuietHours: false }
  const what = choice.category === '*' ? 'every category' : `'${choice.category}'`
  const where = choice.channel === '*' ? 'every channel' : choice.channel
  return { send: false, reason: `opted out of ${what} on ${where}` }
}
