import { defineConfig, secret } from '@mortar/core'
import { z } from 'zod'
import {
  DEVELOPMENT_ADMIN_PASSWORD,
  DEVELOPMENT_SESSION_PASSWORD,
  DEVELOPMENT_VAULT_KEY,
  refuseDevelopmentDefaultsInProduction,
} from './secrets/index.js'

/** The shop's settings, read from the environment (`PORT`, `HOST`). */
export const shopConfigSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(3000),
  host: z.string().default('127.0.0.1'),
  /** `DATABASE_URL`: `sqlite:./var/shop.db` (the default), `postgres://…` or `mysql://…`. */
  databaseUrl: z.string().default('sqlite:./var/shop.db'),
  // Accounts and payments. Unset secrets fall back to public development defaults, which
  // loadShopConfig refuses when NODE_ENV=production.
  /** `SESSION_PASSWORD`: seals session cookies; 32+ characters. */
  sessionPassword: secret(z.string().min(32).default(DEVELOPMENT_SESSION_PASSWORD)),
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
