import type { ChannelName } from '../channels/channel.js'

/** The payload of `notification.sent`: a delivery the provider accepted. */
export interface NotificationSentEvent {
  readonly deliveryId: string
  readonly notificationId: string
  readonly type: string
  readonly category: string
  readonly recipientId: string
  readonly channel: ChannelName
  readonly providerMessageId: string | undefined
  readonly attempts: number
}

/**
 * The payload of `notification.failed`: an attempt failed. `final` says the delivery is now dead
 * (a permanent failure or the last attempt); otherwise it is retried.
 */
export interface NotificationFailedEvent {
  readonly deliveryId: string
  readonly notificationId: string
  readonly type: string
  readonly category: string
  readonly recipientId: string
  readonly channel: ChannelName
  readonly reason: string
  /**
   * The channel result: `transient`, `not-accepted` or `permanent`; `ambiguous` when the channel
   * resolved no result (`undefined`, an unknown status: it may have gone out, so it is final,
   * never retried on its own; replay it once checked); `job-dead` when the delivery job died
   * with no result (its workers died mid-attempt until its attempts ran out, or its last attempt
   * timed out or threw).
   */
  readonly result: 'transient' | 'not-accepted' | 'permanent' | 'ambiguous' | 'job-dead'
  readonly attempts: number
  readonly final: boolean
}

declare module '@mortar/core' {
  interface EventMap {
    'notification.sent': NotificationSentEvent
    'notification.failed': NotificationFailedEvent
  }
}
