import { type Clock, MortarError, NotFoundError, token, transaction } from '@mortar/core'
import type { Kysely } from 'kysely'
import type { ShopAccessControl } from '../access/index.js'
import type { ShopPrincipal } from '../accounts/index.js'
import { ORDER_COLUMNS, type Order, toOrder } from './order.js'
import type { OrderListener } from './order-listener.js'
import type { OrdersDb, OrderStatus } from './orders-db.js'

/** The status an order moves to from each status; a delivered order goes nowhere. */
const NEXT_STATUS: Readonly<Record<OrderStatus, OrderStatus | undefined>> = {
  placed: 'shipped',
  shipped: 'delivered',
  delivered: undefined,
}

/** An order asked to move to a status that does not follow its current one. */
export class OrderStatusError extends MortarError {
  constructor(current: OrderStatus, wanted: OrderStatus) {
    super(
      'E_ORDER_STATUS',
      409,
      `The order is ${current}; it cannot become ${wanted}${
        NEXT_STATUS[current] === undefined ? '' : ` (next: ${NEXT_STATUS[current]})`
      }.`,
      { details: { current, wanted } },
    )
  }
}

/** A shipping update: the new status and, when shipped, the carrier's tracking code. */
export interface ShippingUpdate {
  readonly status: 'shipped' | 'delivered'
  readonly trackingCode?: string | undefined
}

/**
 * Moves orders along (placed → shipped → delivered) for those the policy lets `ship`, and
 * tells the {@link OrderListener}s in the same transaction (the buyer's shipping notification).
 * Two admins updating one order at once: one wins, the other gets a 409.
 */
export class Fulfilment {
  readonly #db: Kysely<OrdersDb>
  readonly #access: ShopAccessControl
  readonly #clock: Clock
  readonly #listeners: readonly OrderListener[]

  constructor(
    db: Kysely<OrdersDb>,
    access: ShopAccessControl,
    clock: Clock,
    listeners: readonly OrderListener[] = [],
  ) {
    this.#db = db
    this.#access = access
    this.#clock = clock
    this.#listeners = listeners
  }

  /** Applies `update` to the order; 404 when the caller may not read it, 403 when not move it. */
  async update(principal: ShopPrincipal, orderId: string, update: ShippingUpdate): Promise<Order> {
    return transaction(async () => {
      const row = await this.#db
        .selectFrom('orders')
        .select(ORDER_COLUMNS)
        .where('id', '=', orderId)
        .executeTakeFirst()
      if (row === undefined) throw new NotFoundError('There is no order with this id.')
      await this.#access.authorize(principal, 'read', 'orders', row)
      await this.#access.authorize(principal, 'ship', 'orders', row)
      if (NEXT_STATUS[row.status] !== update.status) {
        throw new OrderStatusError(row.status, update.status)
      }
      const changes = {
        status: update.status,
        tracking_code: update.trackingCode ?? row.tracking_code,
        updated_at: new Date(this.#clock.nowMs()).toISOString(),
      }
      // Only from the status read above: a concurrent update that got there first wins.
      const result = await this.#db
        .updateTable('orders')
        .set(changes)
        .where('id', '=', orderId)
        .where('status', '=', row.status)
        .executeTakeFirst()
      if (result.numUpdatedRows === 0n) throw new OrderStatusError(update.status, update.status)
      const lines = await this.#db
        .selectFrom('order_lines')
        .selectAll()
        .where('order_id', '=', orderId)
        .orderBy('product_id')
        .execute()
      const order = toOrder({ ...row, ...changes }, lines)
      for (const listener of this.#listeners) await listener.orderStatusChanged?.(order, row.status)
      return order
    })
  }
}

/** The shop's {@link Fulfilment}. */
export const FULFILMENT = token<Fulfilment>('shop.fulfilment')
