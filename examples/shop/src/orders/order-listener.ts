import type { Order } from './order.js'
import type { OrderStatus } from './orders-db.js'

/**
 * Work that belongs to an order's transaction: the confirmation's ledger rows, the purchase's
 * tracking. Each method runs inside the transaction that writes the order, so what it writes
 * commits with the order or not at all; a listener that throws rolls the order back.
 */
export interface OrderListener {
  /** After checkout wrote the order, its lines and the stock it took. */
  orderPlaced?(order: Order): Promise<void>
  /** After an admin moved the order along (shipped, delivered). */
  orderStatusChanged?(order: Order, previous: OrderStatus): Promise<void>
}
