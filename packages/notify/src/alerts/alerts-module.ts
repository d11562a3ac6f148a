import {
  CLOCK,
  defineModule,
  EVENT_BUS,
  globalToken,
  LOGGER,
  type Module,
  type SuspiciousActivity,
  thrownText,
} from '@mortar/core'
import { NotifyConfigError } from '../errors.js'
import { wholeCharacters } from '../ledger/delivery-table.js'
import { checkRecipient } from '../notification/recipient.js'
import { delayOption } from '../module/delay-option.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import type { Alert, AlertChannel } from './admin-alert.js'
import { Alerts } from './alerts.js'
import type { AlertsModuleOptions } from './alerts-options.js'
import { ProcessMonitor } from './process-monitor.js'

/**
 * The app's {@link Alerts}, bound by `alertsModule`.
 *
 * @example
 * ```ts
 * import { ALERTS } from '@mortar/notify'
 *
 * await app.resolve(ALERTS).raise({ key: 'payments.down', title: 'Payment provider down' })
 * ```
 */
export const ALERTS = globalToken<Alerts>('mortar.notify.alerts')

const CHANNELS: ReadonlySet<AlertChannel> = new Set(['mail', 'sms', 'chat', 'webhook', 'inbox'])

/**
 * Admin alerts: a process monitor (heap and RSS against limits, event-loop delay) and
 * `security.suspicious_activity` (published by `@mortar/auth`'s login throttle) raise alerts that
 * go to the admins through the notify module's ledger, under the critical category
 * `admin_alerts`. Each alert key has a cooldown: a storm within it is one notice with a count,
 * and a condition that clears gets a "resolved" notice. Put it after `notifyModule`.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { alertsModule, devMailbox, mailChannel, notifyModule } from '@mortar/notify'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/app.db',
 *   modules: [
 *     notifyModule({ channels: [mailChannel({ from: 'Shop <no-reply@shop.example>', transport: devMailbox() })] }),
 *     alertsModule({
 *       admins: [{ id: 'ops', email: 'ops@shop.example' }],
 *       monitor: { rssBytes: 512 * 1024 * 1024, eventLoopDelayMs: 500 },
 *     }),
 *   ],
 * })
 * ```
 */
export function alertsModule(options: AlertsModuleOptions): Module {
  const channels = options.channels ?? ['mail']
  const cooldownMs = options.cooldownMs ?? 15 * 60_000
  const checkEveryMs = delayOption('alertsModule: checkEveryMs', options.checkEveryMs, 10_000)
  checkOptions(options, channels, cooldownMs)

  let timer: NodeJS.Timeout | undefined
  let monitor: ProcessMonitor | undefined
  let unsubscribe: (() => void) | undefined
  let running: Promise<void> | undefined
  return defineModule({
    name: 'mortar.alerts',
    register(binder) {
      binder.bind(ALERTS, {
        inject: [NOTIFIER, CLOCK, LOGGER],
        useFactory: (notifier, clock, logger) =>
          new Alerts({ notifier, admins: options.admins, channels, cooldownMs, clock, logger }),
      })
    },
    onStart(app) {
      const alerts = app.resolve(ALERTS)
      const logger = app.resolve(LOGGER)
      if (options.suspiciousActivity !== false) {
        unsubscribe = app
          .resolve(EVENT_BUS)
          .subscribe('security.suspicious_activity', (event) => alerts.raise(activityAlert(event)))
      }
      if (options.monitor !== false) {
        monitor = new ProcessMonitor(options.monitor ?? {}, alerts)
        monitor.start()
      }
      const check = async () => {
        await monitor?.check()
        await alerts.flushDue()
      }
      timer = setInterval(() => {
        // One check at a time: a slow database must not pile them up.
        running ??= check()
          .catch((err) => logger.error({ err }, 'The admin alerts check failed.'))
          .finally(() => {
            running = undefined
          })
      }, checkEveryMs)
      timer.unref()
    },
    async onStop(app) {
      clearInterval(timer)
      timer = undefined
      unsubscribe?.()
      unsubscribe = undefined
      monitor?.stop()
      monitor = undefined
      await running
      await app.resolve(ALERTS).flushAll()
    },
  })
}

function checkOptions(
  options: AlertsModuleOptions,
  channels: readonly AlertChannel[],
  cooldownMs: number,
): void {
  const admins = options.admins
  if (typeof admins !== 'function' && !(Array.isArray(admins) && admins.length > 0)) {
    throw new NotifyConfigError(
      "alertsModule needs admins: [{ id: 'ops', email: 'ops@example.com' }] or a function returning them.",
    )
  }
  // notify() refuses such an admin, and a notice is never thrown, only logged: every alert
  // would be lost at its write.
  if (Array.isArray(admins)) {
    admins.forEach((admin, index) => {
      try {
        checkRecipient(admin)
      } catch (error) {
        throw new NotifyConfigError(`alertsModule: admins[${index}]: ${thrownText(error)}`)
      }
    })
  }
  if (channels.length === 0 || channels.some((channel) => !CHANNELS.has(channel))) {
    throw new NotifyConfigError(
      `alertsModule: channels must be some of ${[...CHANNELS].join(', ')}.`,
    )
  }
  if (!(Number.isFinite(cooldownMs) && cooldownMs >= 0)) {
    throw new NotifyConfigError('alertsModule: cooldownMs must be a number of milliseconds ≥ 0.')
  }
  for (const [name, value] of Object.entries(options.monitor || {})) {
    if (
      value !== undefined &&
      !(typeof value === 'number' && Number.isFinite(value) && value > 0)
    ) {
      throw new NotifyConfigError(`alertsModule: monitor.${name} must be a positive number.`)
    }
  }
}

/** One key per kind, so a storm of lockouts across accounts and addresses is one notice. */
function activityAlert(event: SuspiciousActivity): Alert {
  const who = event.scope === 'ip' ? `address ${clip(event.ip)}` : `account ${clip(event.account)}`
  return {
    key: `security.${event.kind}`,
    title: `Login lockout of ${who}`,
    detail: [
      event.account !== undefined ? `account: ${clip(event.account)}` : undefined,
      event.ip !== undefined ? `address: ${clip(event.ip)}` : undefined,
      `lockouts in a row: ${event.lockouts}`,
      `locked until: ${event.lockedUntil}`,
      `detected: ${event.at}`,
    ]
      .filter((line) => line !== undefined)
      .join('\n'),
    severity: 'warning',
  }
}

// The account is whatever an attacker typed: one line, short, no control characters.
function clip(value: string | undefined): string {
  if (value === undefined) return 'unknown'
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f<>]/g, '?')
  return clean.length > 100 ? `${wholeCharacters(clean, 100)}…` : clean
}
