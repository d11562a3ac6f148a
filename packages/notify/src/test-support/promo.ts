// Test helpers of this package's own tests (never imported by the package itself).
import { Notification } from '../notification/notification.js'

/** A notification of the throttled category of this package's tests, by text message. */
export class Promo extends Notification {
  readonly type = 'promo'
  readonly category = 'marketing'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Sale!' }
  }
}
