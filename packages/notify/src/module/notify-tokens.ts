import { globalToken } from '@mortar/core'
import type { Deliveries } from '../ledger/deliveries.js'
import type { SealedCounts } from '../ledger/seal-stored-addresses.js'
import type { Notifier } from '../notification/notifier.js'
import type { Preferences } from '../preferences/preference-store.js'

/**
 * The app's {@link Notifier}: the ledger in production, `NotificationFake` when a test binds it.
 *
 * @example
 * ```ts
 * import { NOTIFIER } from '@mortar/notify'
 *
 * await app.resolve(NOTIFIER).notify(user, new OrderShipped(order))
 * ```
 */
export const NOTIFIER = globalToken<Notifier>('mortar.notify.notifier')

/**
 * The delivery ledger's reads and repairs ({@link Deliveries}).
 *
 * @example
 * ```ts
 * import { DELIVERIES } from '@mortar/notify'
 *
 * const status = await app.resolve(DELIVERIES).status()
 * ```
 */
export const DELIVERIES = globalToken<Deliveries>('mortar.notify.deliveries')

/**
 * Recipients' notification preferences ({@link Preferences}).
 *
 * @example
 * ```ts
 * import { PREFERENCES } from '@mortar/notify'
 *
 * await app.resolve(PREFERENCES).set(user.id, { category: 'marketing', enabled: false })
 * ```
 */
export const PREFERENCES = globalToken<Preferences>('mortar.notify.preferences')

/** Internal (the `notify seal-addresses` command): seals what older rows hold in plaintext. */
export const ADDRESS_SEALING = globalToken<{ sealStored(): Promise<SealedCounts> }>(
  'mortar.notify.address-sealing',
)
