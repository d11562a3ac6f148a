import 'reflect-metadata'
import { loginThrottleModule } from '@mortar/auth'
import { type App, createApp } from '@mortar/core'
import { type DevMailbox, devMailbox } from '@mortar/notify'
import { databaseSessionRegistry, redisSessionRegistry } from '@mortar/session'
import { type ShopPolicy, shopAccessModule } from './access/index.js'
import { ACCOUNTS, accountsModule, shopSessionModule } from './accounts/index.js'
import { cartModules } from './cart/index.js'
import { catalogModule } from './catalog/index.js'
import type { ShopConfig } from './config.js'
import { shopNotificationsModules, ORDER_NOTIFIER } from './notifications/index.js'
import { ordersModule } from './orders/index.js'
import { paymentsModule } from './payments/index.js'
import { vaultKeyRing } from './secrets/index.js'
import { PURCHASE_TRACKER, shopTrackingModules } from './tracking/index.js'

/** The shop's Mortar app and its session module, whose accessor the routes use. */
export interface ShopApp {
  readonly app: App<ShopConfig>
  readonly sessions: ReturnType<typeof shopSessionModule>
  /** The development mailbox the shop's mail goes to without `SMTP_URL` (this process's only). */
  readonly mailbox: DevMailbox
}

/** Options of {@link createShopApp}. */
export interface ShopAppOptions {
  /** The access policy (default `shopPolicy`); tests build one with more rules. */
  readonly policy?: ShopPolicy
}

/**
 * The shop as a Mortar app: its modules, on the engines `config` names (SQLite by default;
 * `DATABASE_URL`, `REDIS_URL`). The web process (`main.ts`) and the worker process
 * (`worker.ts`) both build it; neither starts it here.
 */
export function createShopApp(config: ShopConfig, options: ShopAppOptions = {}): ShopApp {
  // One Redis connection for the app: the session registry, the login throttle and BullMQ share it.
  const redis =
    config.redisUrl === undefined ? undefined : { url: config.redisUrl, prefix: config.redisPrefix }
  const sessions = shopSessionModule({
    password: config.sessionPassword,
    registry: redis === undefined ? 'database' : 'redis',
  })
  const mailbox = devMailbox()
  const app: App<ShopConfig> = createApp({
    config,
    database: config.databaseUrl,
    // With Redis, background jobs run on BullMQ (enqueued through an outbox table in the caller's
    // transaction); without it, on the SQL queue in the app's database.
    ...(redis === undefined ? {} : { redis, jobs: { engine: 'bullmq' } }),
    modules: [
      redis === undefined ? databaseSessionRegistry() : redisSessionRegistry(),
      sessions,
      // LOGIN_MAX_FAILURES (5) failed logins per account in 15 minutes (50 per address), then a
      // lockout, which publishes security.suspicious_activity: the admins are alerted.
      loginThrottleModule({
        account: { maxFailures: config.loginMaxFailures },
        store: redis === undefined ? 'database' : 'redis',
      }),
      accountsModule({
        passwordCost: { logN: config.passwordHashLogN },
        admin: { email: config.adminEmail, password: config.adminPassword.reveal() },
      }),
      paymentsModule({ vaultKeys: vaultKeyRing(config.vaultKeys) }),
      // The products table, seeded with 10,000 demo products when empty.
      catalogModule({ paginationKey: config.paginationKey }),
      // The carts, in @mortar/session's state store: versioned, so changes sent at once all land.
      ...cartModules(),
      // Who may read which product and order and enter the admin pages: one policy, src/access.
      shopAccessModule(options.policy),
      // Mail, the inbox and SMS through @mortar/notify's ledger.
      ...shopNotificationsModules({
        config,
        mailbox,
        recipientExists: async (id) => (await app.resolve(ACCOUNTS).find(id)) !== undefined,
        admins: async () =>
          (await app.resolve(ACCOUNTS).admins()).map((admin) => ({
            id: admin.id,
            email: admin.email,
          })),
      }),
      // Searches, views, the cart, purchases and dwell through @mortar/analytics.
      ...shopTrackingModules(),
      // The order's transaction also writes the buyer's notifications and tracks the purchase.
      ordersModule({ listeners: [ORDER_NOTIFIER, PURCHASE_TRACKER] }),
    ],
  })
  return { app, sessions, mailbox }
}
