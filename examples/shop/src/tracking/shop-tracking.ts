import { ANALYTICS, type Analytics } from '@mortar/analytics'
import { type Token, requestContext, token } from '@mortar/core'
import { searchName } from '../catalog/index.js'
import type { Order, OrderListener } from '../orders/index.js'
import { linkVisitor } from './visitor-cookie.js'

// The request's analytics: the visitor (or the logged-in user) is read from the request.
function analytics(): Analytics {
  return requestContext().resolve(ANALYTICS)
}

/**
 * Links the request's visitor (the visitor cookie of the searches and views made before logging
 * in) to the account, so funnels and "also bought" see one person.
 */
export function identifyVisitor(userId: string): void {
  linkVisitor(requestContext(), userId)
  analytics().identify(userId)
}

/**
 * A search of the catalog (the first page only: paging is not a search), with what was typed
 * folded as the search folds it (`searchName`) and its spaces collapsed: "Mug", "mug " and
 * "MUG" are one search, counted together in the top searches, as they find the same products.
 */
export function trackSearch(query: string): void {
  const folded = searchName(query).replace(/\s+/g, ' ').trim()
  if (folded !== '') analytics().track('product_searched', { query: folded })
}

/** A product page or `GET /products/:id`. */
export function trackProductView(productId: number): void {
  analytics().track('product_viewed', { productId: String(productId) })
}

/** Units of a product put in the cart. */
export function trackCartAdd(productId: number, quantity: number): void {
  analytics().track('cart_added', { productId: String(productId), quantity })
}

/**
 * Tracks the purchase from inside the order's transaction: analytics queues it only when the
 * transaction commits, so a failed checkout leaves no event.
 */
export class PurchaseTracker implements OrderListener {
  readonly #analytics: Analytics

  constructor(analytics: Analytics) {
    this.#analytics = analytics
  }

  async orderPlaced(order: Order): Promise<void> {
    this.#analytics.track(
      'order_completed',
      {
        orderId: order.id,
        productIds: order.lines.map((line) => String(line.productId)),
        total: order.totalCents,
      },
      // The buyer, also when the order is placed outside a request (a script, a test).
      { userId: order.userId },
    )
  }
}

/** The {@link PurchaseTracker}, for `ordersModule({ listeners })`. */
export const PURCHASE_TRACKER: Token<OrderListener> =
  token<PurchaseTracker>('shop.purchase-tracker')
