import { NotifyUnavailableError } from '../errors.js'
import type { CheckNotification, Notification } from '../notification/notification.js'
import type { Notifier, NotifyResult, Recipients } from '../notification/notifier.js'
import { route } from '../notification/recipient.js'

// The notifiers of started apps, newest last; on globalThis so the ESM and CJS builds share it.
const KEY = Symbol.for('mortar.notify.runningNotifiers')
const store = globalThis as unknown as Record<symbol, Notifier[] | undefined>
store[KEY] ??= []
const running = store[KEY] as Notifier[]

/** Makes `notifier` the one {@link notify} uses; returns a function that undoes it. */
export function useRunningNotifier(notifier: Notifier): () => void {
  running.push(notifier)
  return () => {
    const index = running.lastIndexOf(notifier)
    if (index !== -1) running.splice(index, 1)
  }
}

function notifyRunning<N extends Notification<never>>(
  recipients: Recipients<N>,
  notification: N & CheckNotification<N>,
): Promise<NotifyResult> {
  const notifier = running[running.length - 1]
  if (notifier === undefined) {
    return Promise.reject(
      new NotifyUnavailableError(
        'No running app has the notify module: start an app with notifyModule(), or use app.resolve(NOTIFIER).',
      ),
    )
  }
  return notifier.notify(recipients, notification)
}

/**
 * Notifies one recipient or several through the running app's notifier (the app started last;
 * `NotificationFake` when a test bound it), as `app.resolve(NOTIFIER).notify` does. Inside
 * `transaction()` the deliveries commit or roll back with the caller's data. `notify.route`
 * makes an on-demand recipient.
 *
 * @example
 * ```ts
 * import { transaction } from '@mortar/core'
 * import { notify } from '@mortar/notify'
 *
 * await transaction(async (trx) => {
 *   await trx.insertInto('order').values(order).execute()
 *   await notify(customer, new OrderPlaced(order))
 * })
 * await notify(notify.route('mail', 'ops@example.com'), new DailyReport(stats))
 * ```
 */
export const notify: typeof notifyRunning & { readonly route: typeof route } = Object.assign(
  notifyRunning,
  {
    route,
  },
)
