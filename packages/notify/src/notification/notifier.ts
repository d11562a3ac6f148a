import type { ChannelName } from '../channels/channel.js'
import type { CheckNotification, Notification, RecipientOf } from './notification.js'
import type { Recipient } from './recipient.js'

/**
 * What became of one recipient × channel of a `notify()` call:
 * - `queued`: written to the ledger, a job will send it (`runAt` when quiet hours delay it);
 * - `duplicate`: the same (recipient, channel, key) was notified before; nothing new was written;
 * - `digested`: added to the recipient's open digest batch;
 * - `suppressed`: recorded but not sent (opted out, throttled, no address), with the reason;
 * - `dead`: recorded as failed for good at once (the renderer threw, the message is invalid).
 */
export interface DeliveryOutcome {
  /**
   * The delivery's id in the ledger (for `duplicate`, the id of the delivery notified before);
   * for `digested`, and `duplicate` of a digest's item, the id of the batch that has the item.
   */
  readonly id: string
  readonly recipientId: string
  readonly channel: ChannelName
  readonly status: 'queued' | 'duplicate' | 'digested' | 'suppressed' | 'dead'
  readonly reason?: string | undefined
  /** When a `queued` delivery will be sent, if later than now. */
  readonly runAt?: Date | undefined
}

/** The result of `notify()`: one outcome per recipient × channel. */
export interface NotifyResult {
  readonly deliveries: readonly DeliveryOutcome[]
}

/** One recipient or several, each of the type the notification's `via()` takes. */
export type Recipients<N> = NotifiedRecipient<N> | readonly NotifiedRecipient<N>[]

type NotifiedRecipient<N> = unknown extends RecipientOf<N> ? Recipient : RecipientOf<N> & Recipient

/**
 * Sends notifications: the notify module's ledger, or `NotificationFake` in tests. Bound under
 * `NOTIFIER`; the free function `notify()` uses the running app's.
 */
export interface Notifier {
  /**
   * Notifies one recipient or several (one listed twice, by id, once). In a transaction the deliveries are written in it
   * (rolled back, nothing is sent); outside one they are written at once. Does not compile
   * when `via()` can return a channel the notification has no renderer for.
   */
  notify<N extends Notification<never>>(
    recipients: Recipients<N>,
    notification: N & CheckNotification<N>,
  ): Promise<NotifyResult>
}
