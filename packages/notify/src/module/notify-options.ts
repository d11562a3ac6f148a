import type { BackoffOptions, Vault } from '@mortar/core'
import type { AnyChannel, ChannelName } from '../channels/channel.js'
import type { Digest } from '../digest/define-digest.js'
import type { CategoryOptions } from '../preferences/preference-policy.js'
import type { QuietHours } from '../preferences/quiet-hours.js'

/** Options of `notifyModule`. */
export interface NotifyModuleOptions {
  /** The channels notifications may go out on; one per name (use `fallbackChannel` for several providers). */
  readonly channels: readonly AnyChannel[]
  /**
   * Categories by name: `critical` ones skip preferences and quiet hours, `required` ones cannot
   * be turned off, `throttle` caps deliveries per recipient and channel. A notification of a
   * category not listed here is sent under default rules.
   */
  readonly categories?: Readonly<Record<string, CategoryOptions>>
  /** The locale renderers get for a recipient without one; `'en'` by default. */
  readonly defaultLocale?: string
  /**
   * The time zone of a recipient without one, for quiet hours, daily digests and the renderers'
   * `context.timeZone`; `'UTC'` by default.
   */
  readonly defaultTimeZone?: string
  /**
   * Quiet hours for every recipient, in their time zone (a recipient's own `quietHours` wins,
   * and applies without these too): non-critical deliveries on `channels` (every channel but the
   * inbox by default) wait for the window's end.
   */
  readonly quietHours?: QuietHours & { readonly channels?: readonly ChannelName[] }
  /** The digests notifications may join (see `defineDigest`). */
  readonly digests?: readonly Digest[]
  /**
   * Whether a recipient still exists, asked before each send (once for the deliveries to one
   * recipient that start together): `false` suppresses the delivery with the reason "recipient
   * deleted". On-demand recipients are not asked.
   */
  readonly recipientExists?: (recipientId: string) => boolean | Promise<boolean>
  /**
   * Encrypts secret-bearing addresses at rest: a webhook or chat URL (often its own credential,
   * as a Slack incoming webhook) is stored in the delivery ledger and in digest batches sealed
   * with it, and opened only to send. Needed as soon as such an address is notified: without
   * it, `notify()` refuses to store one (`E_NOTIFY_CONFIG`) rather than keep it in plaintext.
   * Mail addresses, phone numbers and ids are stored as they are.
   */
  readonly vault?: Vault
  /**
   * How many days read and archived inbox items are kept (unread ones are kept until read); 90
   * by default, a whole number from 1 to 36525. A daily schedule deletes those older, by batches.
   */
  readonly inboxRetentionDays?: number
  /** How delivery jobs retry: attempts in all (8), backoff (5 s base, 1 h cap), timeout per attempt (60 s). */
  readonly delivery?: {
    readonly attempts?: number
    readonly backoff?: BackoffOptions
    readonly timeoutMs?: number
  }
}
