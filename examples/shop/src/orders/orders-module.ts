import {
  CLOCK,
  databaseToken,
  defineModule,
  type Module,
  PAGINATOR,
  type Token,
  token,
} from '@mortar/core'
import { SHOP_ACCESS } from '../access/index.js'
import { type CatalogDb, PRODUCT_CATALOG } from '../catalog/index.js'
import { PAYMENT_METHODS } from '../payments/index.js'
import { CHECKOUT, Checkout } from './checkout.js'
import { FULFILMENT, Fulfilment } from './fulfilment.js'
import { ORDER_HISTORY, OrderHistory } from './order-history.js'
import type { OrderListener } from './order-listener.js'
import type { OrdersDb } from './orders-db.js'
import { ordersMigrations } from './orders-migrations.js'

/** Options of {@link ordersModule}. */
export interface OrdersModuleOptions {
  /**
   * What else an order's transaction writes, in this order: notifications, tracking. Each token
   * is bound by another module.
   */
  readonly listeners?: readonly Token<OrderListener>[]
}

const ORDER_LISTENERS = token<readonly OrderListener[]>('shop.order-listeners')

/**
 * Orders: the `orders` and `order_lines` tables, {@link Checkout}, {@link OrderHistory} and
 * {@link Fulfilment}. Needs the payments module (`PAYMENT_METHODS`), the catalog module's
 * `PAGINATOR` and `PRODUCT_CATALOG`, and the shop's access control (`SHOP_ACCESS`).
 */
export function ordersModule(options: OrdersModuleOptions = {}): Module {
  const db = databaseToken<OrdersDb & CatalogDb>()
  const ordersDb = databaseToken<OrdersDb>()
  return defineModule({
    name: 'orders',
    migrations: ordersMigrations,
    register(binder) {
      binder.bind(ORDER_LISTENERS, {
        inject: options.listeners ?? [],
        useFactory: (...listeners) => listeners,
      })
      binder.bind(CHECKOUT, {
        inject: [db, PRODUCT_CATALOG, PAYMENT_METHODS, CLOCK, ORDER_LISTENERS],
        useFactory: (kysely, catalog, payments, clock, listeners) =>
          new Checkout(kysely, catalog, payments, clock, listeners),
      })
      binder.bind(ORDER_HISTORY, {
        inject: [ordersDb, SHOP_ACCESS, PAGINATOR],
        useFactory: (kysely, access, paginator) => new OrderHistory(kysely, access, paginator),
      })
      binder.bind(FULFILMENT, {
        inject: [ordersDb, SHOP_ACCESS, CLOCK, ORDER_LISTENERS],
        useFactory: (kysely, access, clock, listeners) =>
          new Fulfilment(kysely, access, clock, listeners),
      })
    },
  })
}
