import { z } from 'zod'

/**
 * The payload of `security.suspicious_activity`: a package that detects an attack (the login
 * throttle of `@mortar/auth`) publishes it on core's event bus, and another (the admin alerts of
 * `@mortar/notify`) subscribes, neither importing the other. It lives in core for that reason.
 * `kind` says what happened, so subscribers can switch on it as kinds are added.
 *
 * @example
 * ```ts
 * import { EVENT_BUS, type SuspiciousActivity } from '@mortar/core'
 *
 * app.resolve(EVENT_BUS).subscribe('security.suspicious_activity', (event: SuspiciousActivity) => {
 *   if (event.scope === 'ip') console.warn(`login lockout for ${event.ip} until ${event.lockedUntil}`)
 * })
 * ```
 */
export interface SuspiciousActivity {
  /** `login_lockout`: too many failed logins locked an account or an address. */
  readonly kind: 'login_lockout'
  /** What was locked: the account, or every login from the address. */
  readonly scope: 'account' | 'ip'
  /** The account tried (normalised as the throttle keys it), when known. */
  readonly account?: string
  /** The client address, when known. */
  readonly ip?: string
  /** Lockouts in a row for this account or address, this one included. */
  readonly lockouts: number
  /** When the lockout ends (ISO 8601). */
  readonly lockedUntil: string
  /** When it was detected (ISO 8601). */
  readonly at: string
}

/**
 * The schema of {@link SuspiciousActivity}. The publisher defines it on the app's bus at start-up
 * (`loginThrottleModule` does), so a malformed payload is refused before any subscriber runs.
 *
 * @example
 * ```ts
 * import { createLogger, EventBus, suspiciousActivitySchema } from '@mortar/core'
 *
 * const bus = new EventBus(createLogger())
 * bus.define('security.suspicious_activity', suspiciousActivitySchema)
 * bus.subscribe('security.suspicious_activity', (event) => console.warn(event.kind, event.scope))
 * ```
 */
export const suspiciousActivitySchema: z.ZodType<SuspiciousActivity> = z.object({
  kind: z.literal('login_lockout'),
  scope: z.enum(['account', 'ip']),
  account: z.string().min(1).optional(),
  ip: z.string().min(1).optional(),
  lockouts: z.number().int().positive(),
  lockedUntil: z.iso.datetime(),
  at: z.iso.datetime(),
})
