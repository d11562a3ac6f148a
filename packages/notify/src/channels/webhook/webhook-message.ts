/**
 * What `toWebhook()` returns: an event type and its data. The channel sends
 * `{ type, timestamp, data }` as JSON, signed per Standard Webhooks, with the delivery's id as
 * `webhook-id` so the receiver can drop a repeat.
 *
 * @example
 * ```ts
 * import type { WebhookMessage } from '@mortar/notify'
 *
 * const message: WebhookMessage = { type: 'order.shipped', data: { orderId: 'o-1' } }
 * ```
 */
export interface WebhookMessage {
  readonly type: string
  readonly data: unknown
}
