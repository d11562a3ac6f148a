import type { ChannelName } from '../channels/channel.js'
import { ON_DEMAND_ID_PREFIX } from '../notification/recipient.js'
import {
  type CategoryOptions,
  decidePreference,
  type PreferenceEntry,
} from '../preferences/preference-policy.js'

// What decides whether a written delivery goes out, beside its channel's answer: the delivery
// job (`DeliveryDispatcher`) and `NotificationFake` both decide through these, so a test on the
// fake suppresses what the ledger would, and nothing more.

/** The reason of a delivery suppressed because `recipientExists` says its recipient is gone. */
export const RECIPIENT_GONE = 'recipient deleted before delivery'

/** True when `recipientExists` is asked about the recipient: not for on-demand addresses. */
export function asksExistence(recipientId: string): boolean {
  return !recipientId.startsWith(ON_DEMAND_ID_PREFIX)
}

/**
 * Why the recipient's stored choices hold back a delivery of `category` on `channel`, or
 * `undefined`: critical and required categories, and on-demand recipients (addresses with no
 * preferences of their own), are never held.
 */
export function preferenceHold(
  recipientId: string,
  category: string,
  channel: ChannelName,
  categories: Readonly<Record<string, CategoryOptions>>,
  preferences: readonly PreferenceEntry[],
): string | undefined {
  // No stored choice: nothing to opt out with.
  if (preferences.length === 0) return undefined
  const options = categories[category] ?? {}
  if (options.critical === true || options.required === true || !asksExistence(recipientId)) {
    return undefined
  }
  const decision = decidePreference(category, channel, options, preferences)
  return decision.send ? undefined : decision.reason
}

/** The start of the throttle window `nowMs` is in: fixed windows aligned to the Unix epoch. */
export function throttleWindowStart(
  throttle: NonNullable<CategoryOptions['throttle']>,
  nowMs: number,
): number {
  return nowMs - (nowMs % throttle.windowMs)
}

/** Why a delivery that is the `count`th of its window is throttled, or `undefined`. */
export function throttleHold(
  throttle: NonNullable<CategoryOptions['throttle']>,
  count: number,
  category: string,
  channel: ChannelName,
): string | undefined {
  return count > throttle.limit
    ? `throttled: more than ${throttle.limit} '${category}' on ${channel} per ${throttle.windowMs} ms`
    : undefined
}
