import { defineModule, type Module } from '@mortar/core'
import {
  alertsModule,
  type AnyChannel,
  type DevMailbox,
  inboxChannel,
  mailChannel,
  NOTIFIER,
  notifyModule,
  smsChannel,
  type Recipient,
  smtpTransport,
} from '@mortar/notify'
import { ACCOUNTS } from '../accounts/index.js'
import type { ShopConfig } from '../config.js'
import { smsProviderUrl } from '../sms-stub/index.js'
import { SHOP_CATEGORIES } from './order-notifications.js'
import { ORDER_NOTIFIER, OrderNotifier } from './order-notifier.js'

/** Options of {@link shopNotificationsModules}. */
export interface ShopNotificationsOptions {
  readonly config: ShopConfig
  /** Where mail goes without `SMTP_URL`: the development mailbox the admin pages show. */
  readonly mailbox: DevMailbox
  /** Whether an account with this id still exists; asked before each delivery. */
  readonly recipientExists: (id: string) => Promise<boolean>
  /** The admin accounts, asked before each admin alert. */
  readonly admins: () => Promise<readonly Recipient[]>
}

/**
 * The shop's notifications: `@mortar/notify` with mail (SMTP with `SMTP_URL`, else the
 * development mailbox), the in-app inbox and SMS (`SMS_URL`, else the shop's own stand-in outside
 * production), and the {@link OrderNotifier} that the orders module calls in its transactions.
 */
export function shopNotificationsModules(options: ShopNotificationsOptions): Module[] {
  const { config } = options
  const smsUrl = smsProviderUrl(config)
  const channels: AnyChannel[] = [
    mailChannel({
      from: config.mailFrom,
      transport:
        config.smtpUrl === undefined
          ? options.mailbox
          : smtpTransport({ url: config.smtpUrl.reveal() }),
    }),
    inboxChannel(),
  ]
  if (smsUrl !== undefined) {
    channels.push(
      smsChannel({
        baseUrl: smsUrl,
        accountSid: config.smsAccountSid,
        authToken: config.smsAuthToken.reveal(),
        from: config.smsFrom,
      }),
    )
  }
  return [
    notifyModule({
      channels,
      categories: SHOP_CATEGORIES,
      recipientExists: options.recipientExists,
    }),
    // Low memory and login lockouts (LOGIN_MAX_FAILURES wrong passwords) reach every admin,
    // once per kind and cooldown: a storm is one message with a count.
    alertsModule({
      admins: options.admins,
      channels: ['mail', 'inbox'],
      cooldownMs: config.alertCooldownMinutes * 60_000,
      checkEveryMs: config.alertCheckSeconds * 1_000,
      monitor: {
        ...(config.alertHeapMb === undefined
          ? {}
          : { heapUsedBytes: config.alertHeapMb * 2 ** 20 }),
        ...(config.alertRssMb === undefined ? {} : { rssBytes: config.alertRssMb * 2 ** 20 }),
      },
    }),
    defineModule({
      name: 'shop.notifications',
      register(binder) {
        binder.bind(ORDER_NOTIFIER, {
          inject: [NOTIFIER, ACCOUNTS],
          useFactory: (notifier, accounts) =>
            new OrderNotifier(notifier, accounts, smsUrl !== undefined),
        })
      },
    }),
  ]
}
