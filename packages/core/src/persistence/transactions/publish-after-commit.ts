import type { EventBus, EventMap } from '../../events/index.js'
import { afterCommit, type CommitCallbackOptions } from './transaction.js'

/**
 * Publishes an event on the bus once the surrounding transaction commits (of
 * `options.database` when given, as for {@link afterCommit}), so subscribers never hear of a
 * write that was rolled back; outside a transaction it publishes now.
 *
 * @example
 * ```ts
 * import { EVENT_BUS, publishAfterCommit, transaction } from '@mortar/core'
 *
 * await transaction(async (trx) => {
 *   await trx.insertInto('order').values(order).execute()
 *   await publishAfterCommit(app.resolve(EVENT_BUS), 'order.placed', { orderId: order.id })
 * })
 * ```
 */
export function publishAfterCommit<K extends keyof EventMap, DB = unknown>(
  bus: EventBus,
  name: K,
  payload: EventMap[K],
  options: CommitCallbackOptions<DB> = {},
): Promise<void> {
  return afterCommit(() => bus.publish(name, payload), options)
}
