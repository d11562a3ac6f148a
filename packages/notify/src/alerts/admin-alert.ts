import type { ChatMessage } from '../channels/chat/chat-message.js'
import { escapeChat } from '../channels/chat/escape-chat.js'
import type { InboxMessage } from '../channels/inbox/inbox-message.js'
import type { MailMessage } from '../channels/mail/mail-message.js'
import type { SmsMessage } from '../channels/sms/sms-message.js'
import type { WebhookMessage } from '../channels/webhook/webhook-message.js'
import { Notification } from '../notification/notification.js'

/**
 * The category admin alerts are sent under. `notifyModule` makes it critical unless the app
 * configures it otherwise, so an alert ignores preferences and quiet hours.
 */
export const ALERT_CATEGORY = 'admin_alerts'

/** The channels an alert can go out on: each has a renderer in {@link AdminAlert}. */
export type AlertChannel = 'mail' | 'sms' | 'chat' | 'webhook' | 'inbox'

/** An alert, raised by the process monitor, by suspicious activity or by the app. */
export interface Alert {
  /** What the alert is about; cooldowns, storms and resolutions are per key (`'payments.down'`). */
  readonly key: string
  /** One line for a subject, a text or a chat message (`'Payment provider down'`). */
  readonly title: string
  /** More lines: figures, limits, who and where. */
  readonly detail?: string | undefined
  /** `'critical'` by default. */
  readonly severity?: 'warning' | 'critical' | undefined
}

/** What an admin is told: an alert, a storm of it collapsed into one count, or its end. */
export interface AlertNotice {
  readonly state: 'raised' | 'repeated' | 'resolved'
  readonly alert: Alert
  /** `repeated`: how many times the alert was raised since the last notice. */
  readonly count: number
  /** `repeated`: since when the count runs (ISO 8601). */
  readonly since: string
  readonly host: string
}

/** The notification of an {@link AlertNotice}, on the channels the alerts module was given. */
export class AdminAlert extends Notification {
  readonly type = 'mortar.alert'
  readonly category = ALERT_CATEGORY

  constructor(
    readonly notice: AlertNotice,
    readonly channels: readonly AlertChannel[],
  ) {
    super()
  }

  via(): readonly AlertChannel[] {
    return this.channels
  }

  /** `[critical] Heap at 93% of its limit`, `… (raised 41 more times)`, `[resolved] …`. */
  get headline(): string {
    const { state, alert, count } = this.notice
    if (state === 'resolved') return `[resolved] ${alert.title}`
    const tag = `[${alert.severity ?? 'critical'}] ${alert.title}`
    return state === 'repeated'
      ? `${tag} (raised ${count} more ${count === 1 ? 'time' : 'times'} since ${this.notice.since})`
      : tag
  }

  get body(): string {
    const { state, alert, host, count, since } = this.notice
    const storm =
      state === 'resolved' && count > 0
        ? `It was raised ${count} more ${count === 1 ? 'time' : 'times'} since ${since}.`
        : undefined
    return [alert.detail, storm, `alert: ${alert.key}`, `host: ${host}`]
      .filter((line) => line !== undefined && line !== '')
      .join('\n')
  }

  toMail(): MailMessage {
    return { subject: this.headline, text: this.body }
  }
  toSms(): SmsMessage {
    return { text: this.headline }
  }
  toChat(): ChatMessage {
    // An alert's text may be anything an attacker typed (a login name, an error message).
    return { text: escapeChat(`${this.headline}\n${this.body}`) }
  }
  toInbox(): InboxMessage {
    return { title: this.headline, body: this.body }
  }
  toWebhook(): WebhookMessage {
    return { type: `alert.${this.notice.state}`, data: this.notice }
  }
}
