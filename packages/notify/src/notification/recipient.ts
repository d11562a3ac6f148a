import type { ChannelName } from '../channels/channel.js'
import { hasLoneSurrogate, isTimeZone } from '@mortar/core'
import { NotifyRecipientError } from '../errors.js'
import { isTimeOfDay } from '../preferences/quiet-hours.js'
import { addressKey } from './shown-address.js'

/**
 * Someone a notification goes to. `id` is their stable key: the ledger, the in-app inbox,
 * preferences, throttles and digests are all kept by it. Channels find their address in
 * `routes` first, then in the typed fields (`email` for mail, `phone` for SMS). `locale` picks
 * the language of the rendered messages, `timeZone` (IANA, `'Europe/Paris'`) places quiet
 * hours and daily digests. An app's user type can simply have these fields.
 *
 * @example
 * ```ts
 * import type { Recipient } from '@mortar/notify'
 *
 * const ada: Recipient = { id: 'user-1', email: 'ada@example.com', locale: 'fr', timeZone: 'Europe/Paris' }
 * ```
 */
export interface Recipient {
  readonly id: string
  readonly email?: string | undefined
  readonly phone?: string | undefined
  readonly locale?: string | undefined
  readonly timeZone?: string | undefined
  /**
   * This recipient's own quiet hours in their time zone (`null`: none), instead of the notify
   * module's default.
   */
  readonly quietHours?: { readonly start: string; readonly end: string } | null | undefined
  /** Addresses per channel, for channels without a typed field (a webhook URL, a chat URL). */
  readonly routes?: { readonly [C in ChannelName]?: string | undefined } | undefined
}

/**
 * A recipient made of addresses alone, for someone who is not a user of the app (Laravel's
 * on-demand notifications). Its `id` is derived from the addresses, so idempotency keys,
 * throttles and digests still apply to it; a URL is in it only as scheme, host and a digest.
 * A notify module with a `vault` stores it under a keyed digest of this id instead (`route:#…`),
 * so the ledger never holds the addresses; `deliveries.list(recipient.id)` still finds it.
 */
export interface OnDemandRecipient extends Recipient {
  /** Adds an address on another channel; returns a new recipient. */
  route(channel: ChannelName, address: string): OnDemandRecipient
}

/**
 * An on-demand recipient: `route('mail', 'ops@example.com').route('sms', '+15550100')`.
 *
 * @example
 * ```ts
 * import { notify, route } from '@mortar/notify'
 *
 * await notify(route('mail', 'ops@example.com'), new DailyReport(stats))
 * ```
 */
export function route(channel: ChannelName, address: string): OnDemandRecipient {
  return onDemand({ [channel]: address })
}

const ON_DEMAND = Symbol.for('mortar.notify.onDemand')

/**
 * The prefix of an on-demand recipient's id, and of no other: deliveries to such an id skip
 * preferences and `recipientExists` (there is no user behind it).
 */
export const ON_DEMAND_ID_PREFIX = 'route:'

/** True for a recipient made by {@link route}: addresses only, no user behind it. */
export function isOnDemand(recipient: Recipient): boolean {
  return (recipient as { readonly [ON_DEMAND]?: true })[ON_DEMAND] === true
}

/**
 * A recipient read back from storage (a digest's batch): an on-demand one is made again from its
 * routes, since being one does not survive JSON; any other is returned as it is.
 */
export function revivedRecipient(stored: Recipient): Recipient {
  if (!stored.id.startsWith(ON_DEMAND_ID_PREFIX) || stored.routes === undefined) return stored
  const routes = Object.fromEntries(
    Object.entries(stored.routes).filter(([, address]) => typeof address === 'string'),
  ) as { readonly [C in ChannelName]?: string }
  return onDemand(routes)
}

function onDemand(routes: { readonly [C in ChannelName]?: string }): OnDemandRecipient {
  for (const [channel, address] of Object.entries(routes)) {
    if (typeof address !== 'string' || address.trim() === '') {
      throw new NotifyRecipientError(`routes.${channel}`, 'must be a non-empty address')
    }
  }
  const id = Object.entries(routes)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([channel, address]) => `${channel}:${idPart(addressKey(address))}`)
    .join('|')
  return Object.freeze({
    [ON_DEMAND]: true,
    id: `${ON_DEMAND_ID_PREFIX}${id}`,
    routes: Object.freeze({ ...routes }),
    route: (channel: ChannelName, address: string) => onDemand({ ...routes, [channel]: address }),
  })
}

/**
 * An address as a part of an on-demand id, its `|` (which separates the parts) and `%` escaped:
 * `route('mail', 'a@b.c|sms:+1555')` and `route('mail', 'a@b.c').route('sms', '+1555')` were one
 * id, and so one recipient to idempotency keys, throttles and digest batches.
 */
function idPart(address: string): string {
  return address.replaceAll('%', '%25').replaceAll('|', '%7C')
}

/**
 * The recipients of one `notify()` call, each id once (its first entry): one person listed twice
 * (the buyer who is also the seller) is one message per channel, not two.
 */
export function distinctRecipients<R extends Recipient>(list: readonly R[]): readonly R[] {
  if (list.length < 2) return list
  const seen = new Set<string>()
  return list.filter((recipient) => {
    if (seen.has(recipient.id)) return false
    seen.add(recipient.id)
    return true
  })
}

/**
 * The recipient's address on `channel` for `notification`: their explicit route, else what the
 * channel derives.
 */
export function addressOf(
  recipient: Recipient,
  channel: {
    readonly name: ChannelName
    route(recipient: Recipient, notification?: { readonly category: string }): string | undefined
  },
  notification?: { readonly category: string },
): string | undefined {
  const explicit = recipient.routes?.[channel.name]
  if (explicit !== undefined && explicit !== '') return explicit
  const derived = channel.route(recipient, notification)
  return derived === '' ? undefined : derived
}

// The ledger's recipient_id is a varchar(191); addresses are `text`, 64 KiB on MySQL/MariaDB.
const MAX_ID_LENGTH = 191
const MAX_FIELD_BYTES = 65_535
const TEXT_FIELDS = ['email', 'phone', 'locale', 'timeZone'] as const

/**
 * Refuses, with a {@link NotifyRecipientError} naming the field, a recipient whose id or text
 * fields no database column can take (PostgreSQL refuses NUL in text; MySQL/MariaDB's `text`
 * stops at 64 KiB), whose `timeZone` is no IANA zone, or whose `quietHours` are no `HH:MM`
 * window. `notify()` runs it on every recipient before it writes anything, so one bad recipient
 * never turns into a database error that fails the whole call.
 */
export function checkRecipient(recipient: Recipient): void {
  if (typeof recipient !== 'object' || recipient === null) {
    throw new NotifyRecipientError('id', 'must be a non-empty string')
  }
  for (const field of TEXT_FIELDS) {
    const value = recipient[field]
    if (value !== undefined) checkText(field, value)
  }
  // Quiet hours and digests read it: an unknown zone would throw there, into the caller.
  if (recipient.timeZone !== undefined && !isTimeZone(recipient.timeZone)) {
    throw new NotifyRecipientError('timeZone', 'is not a time zone this runtime knows')
  }
  checkQuietHours(recipient.quietHours)
  // Routes before the id: an on-demand recipient's id is made of its routes.
  const routes: unknown = recipient.routes
  if (routes !== undefined && (routes === null || typeof routes !== 'object')) {
    throw new NotifyRecipientError('routes', 'must be an object of addresses per channel')
  }
  for (const [channel, address] of Object.entries(routes ?? {})) {
    if (address !== undefined) checkText(`routes.${channel}`, address)
  }
  if (typeof recipient.id !== 'string' || recipient.id === '') {
    throw new NotifyRecipientError('id', 'must be a non-empty string')
  }
  if (recipient.id.length > MAX_ID_LENGTH) {
    throw new NotifyRecipientError('id', `is over ${MAX_ID_LENGTH} characters`)
  }
  checkText('id', recipient.id)
  // A user with such an id would be taken for an on-demand recipient when sent to: their
  // opt-outs ignored, and sent to after their account was deleted.
  if (recipient.id.startsWith(ON_DEMAND_ID_PREFIX) && !isOnDemand(recipient)) {
    throw new NotifyRecipientError(
      'id',
      `starts with '${ON_DEMAND_ID_PREFIX}', which only on-demand recipients (route()) have`,
    )
  }
}

// Read when a delivery is planned, for some channels only: a malformed window would throw a
// plain TypeError out of notify() on those, and pass unseen on the others.
function checkQuietHours(quietHours: unknown): void {
  if (quietHours === undefined || quietHours === null) return
  if (typeof quietHours !== 'object') {
    throw new NotifyRecipientError('quietHours', "must be { start: 'HH:MM', end: 'HH:MM' } or null")
  }
  for (const edge of ['start', 'end'] as const) {
    const time: unknown = (quietHours as Record<string, unknown>)[edge]
    if (typeof time !== 'string' || !isTimeOfDay(time)) {
      throw new NotifyRecipientError(
        `quietHours.${edge}`,
        'is not a time of day as HH:MM (00:00 to 23:59)',
      )
    }
  }
}

function checkText(field: string, value: unknown): void {
  if (typeof value !== 'string') throw new NotifyRecipientError(field, 'must be a string')
  if (value.includes('\u0000')) throw new NotifyRecipientError(field, 'holds a NUL character')
  // It has no UTF-8 form: every engine would store U+FFFD, so 'b\uD800' and 'b\uDBFF' would be
  // one recipient, each reading the other's inbox.
  if (hasLoneSurrogate(value)) {
    throw new NotifyRecipientError(field, 'holds a lone surrogate (not well-formed Unicode)')
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_FIELD_BYTES) {
    throw new NotifyRecipientError(field, `is over ${MAX_FIELD_BYTES} bytes in UTF-8`)
  }
}
