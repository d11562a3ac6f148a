import type { ColumnType } from 'kysely'

/** Where an order is: placed at checkout, then shipped and delivered by an admin. */
export type OrderStatus = 'placed' | 'shipped' | 'delivered'

/** The `orders` table: one row per checkout. */
export interface OrdersTable {
  /** A random UUID. */
  id: string
  user_id: string
  status: OrderStatus
  total_cents: number
  /** The saved payment method that pays; kept as a label too, since the card may be deleted. */
  payment_method_id: string
  /** `visa •••• 4242`, as the order page shows it. */
  payment_label: string
  /**
   * The key a checkout form or an `Idempotency-Key` header carried: one order per key and user,
   * so a double-submitted checkout places one order.
   */
  checkout_key: string
  /** The carrier's tracking code, once shipped. */
  tracking_code: ColumnType<string | null, string | null | undefined, string | null>
  /** ISO 8601, UTC. */
  created_at: string
  updated_at: string
}

/** The `order_lines` table: what an order holds, priced when it was placed. */
export interface OrderLinesTable {
  order_id: string
  product_id: number
  product_name: string
  unit_price_cents: number
  quantity: number
}

/** The tables of the orders module. */
export interface OrdersDb {
  orders: OrdersTable
  order_lines: OrderLinesTable
}
