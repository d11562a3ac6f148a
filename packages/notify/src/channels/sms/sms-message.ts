/**
 * What `toSms()` returns: the text of the message. Providers split long texts into segments;
 * keep it short.
 *
 * @example
 * ```ts
 * import type { SmsMessage } from '@mortar/notify'
 *
 * const message: SmsMessage = { text: 'Your code is 123456' }
 * ```
 */
export interface SmsMessage {
  readonly text: string
}
