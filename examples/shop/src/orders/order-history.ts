import { NotFoundError, type Page, type Paginator, token } from '@mortar/core'
import type { Kysely } from 'kysely'
import type { ShopPrincipal } from '../accounts/index.js'
import type { ShopAccessControl } from '../access/index.js'
import { ORDER_COLUMNS, type Order, type OrderRow, toOrder } from './order.js'
import type { OrderLinesTable, OrdersDb } from './orders-db.js'

/** What a page of orders asks for. */
export interface OrderPageRequest {
  readonly after?: string | undefined
  readonly limit: number
}

/**
 * Reads orders through the shop's policy: a list is filtered in SQL by the rule that lets a
 * caller read an order (a customer's own; every order for an admin), and one order is checked
 * against the same rule, answering 404 when it may not be read, exactly as when it is missing.
 */
export class OrderHistory {
  readonly #db: Kysely<OrdersDb>
  readonly #access: ShopAccessControl
  readonly #paginator: Paginator

  constructor(db: Kysely<OrdersDb>, access: ShopAccessControl, paginator: Paginator) {
    this.#db = db
    this.#access = access
    this.#paginator = paginator
  }

  /** The orders `principal` may read, newest first, with their lines (two queries a page). */
  async list(principal: ShopPrincipal, request: OrderPageRequest): Promise<Page<Order>> {
    const query = this.#access.filter(
      this.#db.selectFrom('orders').select(ORDER_COLUMNS),
      principal,
      'read',
      'orders',
    )
    const page = await this.#paginator.paginate(query, {
      orderBy: [
        { column: 'created_at', direction: 'desc' },
        { column: 'id', direction: 'desc' },
      ],
      after: request.after ?? null,
      limit: request.limit,
    })
    return { items: await this.#withLines(page.items), nextCursor: page.nextCursor }
  }

  /** One order `principal` may read; a 404 problem otherwise. */
  async get(principal: ShopPrincipal, id: string): Promise<Order> {
    const row = await this.#db
      .selectFrom('orders')
      .select(ORDER_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst()
    if (row === undefined) throw new NotFoundError('There is no order with this id.')
    await this.#access.authorize(principal, 'read', 'orders', row)
    const [order] = await this.#withLines([row])
    return order as Order
  }

  async #withLines(rows: readonly OrderRow[]): Promise<Order[]> {
    if (rows.length === 0) return []
    const lines = await this.#db
      .selectFrom('order_lines')
      .selectAll()
      .where(
        'order_id',
        'in',
        rows.map((row) => row.id),
      )
      .orderBy('product_id')
      .execute()
    const byOrder = new Map<string, OrderLinesTable[]>()
    for (const line of lines) {
      const list = byOrder.get(line.order_id) ?? []
      list.push(line)
      byOrder.set(line.order_id, list)
    }
    return rows.map((row) => toOrder(row, byOrder.get(row.id) ?? []))
  }
}

/** The shop's {@link OrderHistory}. */
export const ORDER_HISTORY = token<OrderHistory>('shop.order-history')
