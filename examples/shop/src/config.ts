import { defineConfig, secret } from '@mortar/core'
import { z } from 'zod'
import {
  DEVELOPMENT_ADMIN_PASSWORD,
  DEVELOPMENT_SMS_AUTH_TOKEN,
  DEVELOPMENT_SESSION_PASSWORD,
  DEVELOPMENT_VAULT_KEY,
  refuseDevelopmentDefaultsInProduction,
  sessionKeyRingSchema,
} from './secrets/index.js'

/** The shop's settings, read from the environment (`PORT`, `HOST`). */
export const shopConfigSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(3000),
  host: z.string().default('127.0.0.1'),
  /** `DATABASE_URL`: `sqlite:./var/shop.db` (the default), `postgres://…` or `mysql://…`. */
  databaseUrl: z.string().default('sqlite:./var/shop.db'),
  /**
   * `REDIS_URL`: `redis://host:6379`. Unset, everything lives in the database; set, the session
   * registry and the login throttle move to Redis.
   */
  redisUrl: z.string().optional(),
  /** `REDIS_PREFIX`: put before every key, so several shops (or test runs) share one Redis. */
  redisPrefix: z.string().min(1).max(64).default('shop:'),
  // Accounts and payments. Unset secrets fall back to public development defaults, which
  // loadShopConfig refuses unless NODE_ENV is development or test (unset included).
  /**
   * `SESSION_PASSWORD`: seals session cookies; 32+ characters, or `1:old,2:new` while rotating
   * it (the highest id seals, every id opens).
   */
  sessionPassword: secret(sessionKeyRingSchema.prefault(DEVELOPMENT_SESSION_PASSWORD)),
  /** `VAULT_KEYS`: `id:base64key,…` (32-byte keys); the last one encrypts. */
  vaultKeys: secret(
    z
      .array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9+/_=-]{43,44}$/))
      .min(1)
      .default([DEVELOPMENT_VAULT_KEY]),
  ),
  /**
   * `PAGINATION_KEY`: signs `GET /products` page cursors; 32+ characters, the same on every
   * instance. Unset: a random key per process (logged), so cursors do not survive a restart.
   */
  paginationKey: secret(z.string().min(32)).optional(),
  /** `ADMIN_EMAIL`: the admin account created at start when no account has this email. */
  adminEmail: z.email().default('admin@shop.example'),
  /** `ADMIN_PASSWORD`: that account's password when it is created; 10+ characters. */
  adminPassword: secret(z.string().min(10).max(200).default(DEVELOPMENT_ADMIN_PASSWORD)),
  /**
   * `SMS_URL`: the Twilio-shaped SMS provider's API root. Unset outside production, the shop's
   * own stand-in at `/dev/sms` takes the messages (the admin pages list them); unset in
   * production, no SMS is sent.
   */
  smsUrl: z.url().optional(),
  /** `SMS_ACCOUNT_SID`, `SMS_AUTH_TOKEN`: the provider account; `SMS_FROM`: the sending number. */
  smsAccountSid: z
    .string()
    .regex(/^[A-Za-z0-9_-]{2,64}$/)
    .default('ACdevelopment'),
  smsAuthToken: secret(z.string().min(8).max(200).default(DEVELOPMENT_SMS_AUTH_TOKEN)),
  smsFrom: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/)
    .default('+15550100'),
  /**
   * `SMTP_URL`: `smtp://user:pass@host:587` (or `smtps://…`) sends mail through nodemailer.
   * Unset, mail goes to the development mailbox (in memory; admins read it at `/admin/mailbox`).
   */
  smtpUrl: secret(z.url()).optional(),
  /** `MAIL_FROM`: the sender of the shop's mail. */
  mailFrom: z.string().min(3).max(200).default('Mortar Shop <no-reply@shop.example>'),
  // Admin alerts: they reach every admin account by mail and in their inbox.
  /**
   * `LOGIN_MAX_FAILURES`: wrong passwords for one account within 15 minutes before it is locked
   * out; each lockout alerts the admins.
   */
  loginMaxFailures: z.number().int().min(1).max(100).default(5),
  /** `ALERT_HEAP_MB`, `ALERT_RSS_MB`: memory limits of the process; unset, 90% of what it may use. */
  alertHeapMb: z.number().int().min(1).optional(),
  alertRssMb: z.number().int().min(1).optional(),
  /** `ALERT_COOLDOWN_MINUTES`: after an alert, further ones of its kind are counted this long. */
  alertCooldownMinutes: z.number().int().min(1).max(1440).default(15),
  /** `ALERT_CHECK_SECONDS`: how often memory is sampled. */
  alertCheckSeconds: z.number().int().min(1).max(3600).default(10),
  /** `PASSWORD_HASH_LOG_N`: scrypt cost of new password hashes, log2(N); 17 (OWASP) or more in production. */
  passwordHashLogN: z.number().int().min(10).max(20).default(17),
})

export type ShopConfig = z.infer<typeof shopConfigSchema>

/** Parses the shop's config; throws one ConfigError naming every bad variable. */
export function loadShopConfig(env: NodeJS.ProcessEnv = process.env): ShopConfig {
  const config = defineConfig(shopConfigSchema, { env })
  refuseDevelopmentDefaultsInProduction(config, env)
  return config
}
