import type { AlertChannel } from './admin-alert.js'
import type { AlertAdmins } from './alerts.js'
import type { ProcessLimits } from './process-monitor.js'

/** Options of `alertsModule`. */
export interface AlertsModuleOptions {
  /** Who is alerted: recipients with the addresses of `channels`, or a function asked per notice. */
  readonly admins: AlertAdmins
  /** The channels alerts go out on (each must be one of the notify module's); `['mail']` by default. */
  readonly channels?: readonly AlertChannel[]
  /** How long after a notice further raises of the same key are only counted; 15 minutes by default. */
  readonly cooldownMs?: number
  /** How often the process is sampled and counted storms are sent; 10 seconds by default. */
  readonly checkEveryMs?: number
  /** Limits of the process monitor, or `false` to turn it off; sensible defaults when unset. */
  readonly monitor?: ProcessLimits | false
  /** Whether `security.suspicious_activity` raises alerts; `true` by default. */
  readonly suspiciousActivity?: boolean
}
