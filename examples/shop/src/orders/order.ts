import type { Selectable } from 'kysely'
import type { OrderLinesTable, OrdersTable, OrderStatus } from './orders-db.js'

/** One line of an order, priced when the order was placed. */
export interface OrderLine {
  readonly productId: number
  readonly name: string
  readonly unitPriceCents: number
  readonly quantity: number
}

/** An order as the shop shows it to its buyer and to admins. */
export interface Order {
  readonly id: string
  readonly userId: string
  readonly status: OrderStatus
  readonly totalCents: number
  readonly paymentLabel: string
  readonly trackingCode: string | null
  readonly createdAt: string
  readonly updatedAt: string
  readonly lines: readonly OrderLine[]
}

/** The columns an {@link Order} is read from. */
export const ORDER_COLUMNS = [
  'id',
  'user_id',
  'status',
  'total_cents',
  'payment_label',
  'tracking_code',
  'created_at',
  'updated_at',
] as const

/** An `orders` row as {@link ORDER_COLUMNS} selects it. */
export type OrderRow = Pick<Selectable<OrdersTable>, (typeof ORDER_COLUMNS)[number]>

/** The order of `row` with its `lines`. */
export function toOrder(row: OrderRow, lines: readonly OrderLinesTable[]): Order {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    totalCents: Number(row.total_cents),
    paymentLabel: row.payment_label,
    trackingCode: row.tracking_code,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lines: lines.map((line) => ({
      productId: Number(line.product_id),
      name: line.product_name,
      unitPriceCents: Number(line.unit_price_cents),
      quantity: Number(line.quantity),
    })),
  }
}
