import {
  ConfigError,
  type ConfigIssue,
  isDevelopment,
  type Secret,
  type VaultKeyEntry,
} from '@mortar/core'

/**
 * The session password used when `SESSION_PASSWORD` is unset, so a fresh clone runs with no
 * setup. It is public (it is in this file): refused unless `NODE_ENV` is `development` or `test`.
 */
export const DEVELOPMENT_SESSION_PASSWORD = 'DEVELOPMENT-ONLY shop session password, public!'

/**
 * The vault key ring used when `VAULT_KEYS` is unset, in the `id:base64key` form of that
 * variable. Public as well, so refused unless `NODE_ENV` is `development` or `test`.
 */
export const DEVELOPMENT_VAULT_KEY = 'dev:bl3CSKqTGIzuNDye1HlHflvR/Iwxb4WkmuZR/dyOuQw='

/**
 * The password of the admin account created when `ADMIN_PASSWORD` is unset, so a fresh clone
 * has an admin who reaches the admin pages; `npm start` prints it. Public: refused in
 * production.
 */
export const DEVELOPMENT_ADMIN_PASSWORD = 'development-admin-password'

/** The development SMS provider's token (the shop's stub takes it). Public: refused in production. */
export const DEVELOPMENT_SMS_AUTH_TOKEN = 'development-sms-token'

/** OWASP's scrypt cost, log2(N); lower costs are for tests and refused in production. */
export const PRODUCTION_MIN_PASSWORD_HASH_LOG_N = 17

/** The settings that have development defaults. */
export interface DevelopmentSettings {
  readonly sessionPassword: Secret<Readonly<Record<number, string>>>
  readonly vaultKeys: Secret<readonly string[]>
  readonly adminPassword: Secret<string>
  readonly smsUrl?: string | undefined
  readonly smsAuthToken: Secret<string>
  readonly passwordHashLogN: number
  readonly paginationKey?: Secret<string> | undefined
  readonly smtpUrl?: Secret<string> | undefined
}

const SETTING_OF: Readonly<Record<string, string>> = {
  SESSION_PASSWORD: 'sessionPassword',
  VAULT_KEYS: 'vaultKeys',
  ADMIN_PASSWORD: 'adminPassword',
  SMS_AUTH_TOKEN: 'smsAuthToken',
}

/** The environment variables still set to a public development default. */
export function developmentSecretsIn(config: DevelopmentSettings): string[] {
  const found: string[] = []
  if (Object.values(config.sessionPassword.reveal()).includes(DEVELOPMENT_SESSION_PASSWORD))
    found.push('SESSION_PASSWORD')
  if (config.vaultKeys.reveal().includes(DEVELOPMENT_VAULT_KEY)) found.push('VAULT_KEYS')
  if (config.adminPassword.reveal() === DEVELOPMENT_ADMIN_PASSWORD) found.push('ADMIN_PASSWORD')
  // The token matters only with a real provider; the stub takes the public one.
  if (config.smsUrl !== undefined && config.smsAuthToken.reveal() === DEVELOPMENT_SMS_AUTH_TOKEN) {
    found.push('SMS_AUTH_TOKEN')
  }
  return found
}

/**
 * Throws a {@link ConfigError} when anything but development or a test (`NODE_ENV` other than
 * `development` or `test`, unset included) would run on a public development secret, without
 * an SMTP server or on a password hash cost below OWASP's: a copy of the shop deployed without
 * NODE_ENV must not seal its sessions with a password everyone can read here.
 */
export function refuseDevelopmentDefaultsInProduction(
  config: DevelopmentSettings,
  env: Readonly<Record<string, string | undefined>>,
): void {
  if (isDevelopment(env)) return
  const issues: ConfigIssue[] = developmentSecretsIn(config).map((envVar) => ({
    envVar,
    path: SETTING_OF[envVar] ?? envVar,
    reason: `is unset, so the public development default applies; set a secret of your own (or NODE_ENV=development on your machine; it is ${env.NODE_ENV ? env.NODE_ENV : 'unset'})`,
    secret: true,
  }))
  if (config.paginationKey === undefined) {
    // A random key per process breaks cursors across instances and restarts.
    issues.push({
      envVar: 'PAGINATION_KEY',
      path: 'paginationKey',
      reason: 'is unset; set one key of 32+ characters, the same on every instance',
      secret: true,
    })
  }
  if (config.smtpUrl === undefined) {
    // Without it mail goes to the in-memory development mailbox, which reaches no one.
    issues.push({
      envVar: 'SMTP_URL',
      path: 'smtpUrl',
      reason: 'is unset; set the SMTP server the shop sends its mail through',
      secret: true,
    })
  }
  if (config.passwordHashLogN < PRODUCTION_MIN_PASSWORD_HASH_LOG_N) {
    issues.push({
      envVar: 'PASSWORD_HASH_LOG_N',
      path: 'passwordHashLogN',
      reason: `must be at least ${PRODUCTION_MIN_PASSWORD_HASH_LOG_N} in production (OWASP's scrypt cost)`,
      secret: false,
    })
  }
  if (issues.length > 0) throw new ConfigError(issues)
}

/**
 * Reads `VAULT_KEYS` entries (`id:base64key`, comma-separated, the last one encrypting) into the
 * Vault's key ring.
 */
export function vaultKeyRing(entries: Secret<readonly string[]>): VaultKeyEntry[] {
  return entries.reveal().map((entry) => {
    const separator = entry.indexOf(':')
    return { id: entry.slice(0, separator), key: entry.slice(separator + 1) }
  })
}
