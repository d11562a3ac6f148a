import { randomUUID } from 'node:crypto'
import { type Clock, MortarError, token, transaction } from '@mortar/core'
import type { Kysely } from 'kysely'
import type { ShopPrincipal } from '../accounts/index.js'
import { type CartItem, priceCart } from '../cart/index.js'
import type { CatalogDb, ProductCatalog } from '../catalog/index.js'
import type { PaymentMethods } from '../payments/index.js'
import { ORDER_COLUMNS, type Order, toOrder } from './order.js'
import type { OrderListener } from './order-listener.js'
import type { OrderLinesTable, OrdersDb } from './orders-db.js'

/** Checkout with an empty cart. */
export class EmptyCartError extends MortarError {
  constructor() {
    super('E_CART_EMPTY', 422, 'Your cart is empty; add a product before checking out.')
  }
}

/**
 * A product in the cart has fewer units left than the cart asks for, or is no longer sold to
 * the buyer (gone, or hidden from them by the policy): none left.
 */
export class OutOfStockError extends MortarError {
  /** The product short of stock. */
  readonly productId: number
  /** Units left when the checkout failed. */
  readonly available: number

  constructor(productId: number, available: number) {
    super(
      'E_OUT_OF_STOCK',
      409,
      available === 0
        ? `Product ${productId} is sold out; remove it from your cart.`
        : `Only ${available} of product ${productId} left; lower the quantity in your cart.`,
      { details: { productId, available } },
    )
    this.productId = productId
    this.available = available
  }
}

/**
 * The largest order total the shop takes, in cents ($21,474,836.47): what the 32-bit
 * `orders.total_cents` holds on PostgreSQL and MariaDB. Past it PostgreSQL refuses the row (a
 * 500), MariaDB refuses it as bad input and SQLite (64-bit) stores it, so checkout refuses first.
 */
export const MAX_ORDER_TOTAL_CENTS = 2_147_483_647

/** A cart whose total is past {@link MAX_ORDER_TOTAL_CENTS}: refused whole, nothing placed. */
export class OrderTooLargeError extends MortarError {
  /** What the cart totals. */
  readonly totalCents: number

  constructor(totalCents: number) {
    super(
      'E_ORDER_TOO_LARGE',
      422,
      `An order totals at most ${MAX_ORDER_TOTAL_CENTS} cents; this cart totals ${totalCents}, so order it in parts.`,
      { details: { totalCents, max: MAX_ORDER_TOTAL_CENTS } },
    )
    this.totalCents = totalCents
  }
}

/**
 * The cart or a price changed since the checkout page showed them (a product added in another
 * tab, a new price): nothing is placed, and the page shows the cart as it is now.
 */
export class CartChangedError extends MortarError {
  constructor() {
    super(
      'E_CART_CHANGED',
      409,
      'Your cart or its prices changed since this checkout page was shown; check the total and place the order again.',
    )
  }
}

/** A checkout key sent again with another cart or payment method than its order's. */
export class IdempotencyKeyReusedError extends MortarError {
  /** Whether the key's order is of the same cart, only its payment method another. */
  readonly sameCart: boolean
  /**
   * `emptied` when the key was the cart's own and its order is of this very cart (with another
   * card): the cart is ordered and empty. `kept` when the key was the client's.
   */
  readonly cart: 'kept' | 'emptied'

  constructor(options: { readonly sameCart?: boolean; readonly cart?: 'emptied' } = {}) {
    const cart = options.cart ?? 'kept'
    super(
      'E_IDEMPOTENCY_KEY_REUSED',
      422,
      cart === 'emptied'
        ? 'This cart was ordered already with another payment method (see your orders); your cart is empty now.'
        : 'This checkout key placed an order with another cart or payment method; send a new key to order this cart.',
    )
    this.sameCart = options.sameCart === true
    this.cart = cart
  }
}

/** What a checkout takes. */
export interface PlaceOrder {
  /**
   * The buyer: the order is theirs, and the cart's products are read as the policy shows them
   * to the buyer, so one they may not read is sold out ({@link OutOfStockError}).
   */
  readonly principal: ShopPrincipal
  readonly cart: readonly CartItem[]
  readonly paymentMethodId: string
  /**
   * The cart's key, the checkout form's or the `Idempotency-Key` header: a second checkout with
   * the key returns the first one's order instead of placing another, when it sends the same
   * cart (or an empty one: the cart that order emptied) and payment method; else it throws
   * {@link IdempotencyKeyReusedError}. Absent, every call places one.
   */
  readonly checkoutKey?: string | undefined
  /**
   * The {@link cartQuote} of the lines and prices the shopper was shown: an order whose lines or
   * unit prices differ is refused with {@link CartChangedError}. Absent, the cart is ordered at
   * the catalog's prices.
   */
  readonly quote?: string | undefined
  /**
   * Runs in the order's transaction once the order is written, with the key it was placed
   * under (the cart emptied with it): its failure places nothing.
   */
  readonly withOrder?: (checkoutKey: string) => Promise<void>
}

/** What a checkout did: the order, and whether this call placed it or found it placed. */
export interface PlacedOrder {
  readonly order: Order
  readonly created: boolean
}

type CheckoutDb = OrdersDb & CatalogDb

/**
 * Turns a cart into an order in one transaction: the order and its lines, the stock taken by a
 * conditional update per product (`stock = stock - n WHERE stock >= n`), so concurrent
 * checkouts never take it below zero, and the {@link OrderListener}s (the confirmation's
 * ledger rows, the purchase's tracking) in the same transaction. Any failure rolls all of it
 * back: no order, no mail, no event.
 */
export class Checkout {
  readonly #db: Kysely<CheckoutDb>
  readonly #catalog: ProductCatalog
  readonly #payments: PaymentMethods
  readonly #clock: Clock
  readonly #listeners: readonly OrderListener[]

  constructor(
    db: Kysely<CheckoutDb>,
    catalog: ProductCatalog,
    payments: PaymentMethods,
    clock: Clock,
    listeners: readonly OrderListener[] = [],
  ) {
    this.#db = db
    this.#catalog = catalog
    this.#payments = payments
    this.#clock = clock
    this.#listeners = listeners
  }

  /**
   * Places the order of `input.cart`, paid by one of the user's saved payment methods (a 404 for
   * anyone else's). Throws {@link EmptyCartError}, {@link OutOfStockError},
   * {@link CartChangedError}, {@link OrderTooLargeError} or {@link IdempotencyKeyReusedError};
   * nothing is written then.
   */
  async place(input: PlaceOrder): Promise<PlacedOrder> {
    // A key seen before (a form sent again after its order emptied the cart) finds its order.
    if (input.checkoutKey !== undefined) {
      const placed = await this.#findByKey(input, input.checkoutKey)
      if (placed !== undefined) return { order: placed, created: false }
    }
    if (input.cart.length === 0) throw new EmptyCartError()
    const key = input.checkoutKey ?? randomUUID()
    try {
      return { order: await transaction(() => this.#place(input, key)), created: true }
    } catch (error) {
      // The same key placed an order already (a double submit): that order is the answer,
      // whatever stopped this one (the key's unique index, or the stock the first one took).
      if (input.checkoutKey !== undefined) {
        const placed = await this.#findByKey(input, key)
        if (placed !== undefined) return { order: placed, created: false }
      }
      throw error
    }
  }

  async #place(input: PlaceOrder, key: string): Promise<Order> {
    const payment = await this.#payments.get(input.principal.id, input.paymentMethodId)
    // Lines in product order: two checkouts lock their rows in the same order, so they queue
    // instead of deadlocking.
    const cart = [...input.cart].sort((a, b) => a.productId - b.productId)
    // Priced in this transaction by the function every page of the cart prices it with, through
    // the policy as those pages read it: what is charged is what the shopper saw, or nothing.
    const priced = await priceCart(this.#catalog, input.principal, cart)
    const [gone] = priced.unavailable
    if (gone !== undefined) throw new OutOfStockError(gone.productId, 0)
    if (input.quote !== undefined && input.quote !== priced.quote) throw new CartChangedError()
    // Before any row is written: past the bound, each engine does something else with it.
    const total = priced.totalCents
    if (total > MAX_ORDER_TOTAL_CENTS) throw new OrderTooLargeError(total)
    const now = new Date(this.#clock.nowMs()).toISOString()
    const orderId = randomUUID()
    const lines: OrderLinesTable[] = priced.lines.map((line) => ({
      order_id: orderId,
      product_id: line.productId,
      product_name: line.product.name,
      unit_price_cents: line.product.priceCents,
      quantity: line.quantity,
    }))
    const row = {
      id: orderId,
      user_id: input.principal.id,
      status: 'placed' as const,
      total_cents: total,
      payment_method_id: payment.id,
      payment_label: `${payment.brand} •••• ${payment.last4}`,
      checkout_key: key,
      tracking_code: null,
      created_at: now,
      updated_at: now,
    }
    // The order first: a repeated key fails here, before any stock is touched.
    await this.#db.insertInto('orders').values(row).execute()
    await this.#db.insertInto('order_lines').values(lines).execute()
    for (const line of cart) await this.#take(line)
    await input.withOrder?.(key)
    const order = toOrder(row, lines)
    for (const listener of this.#listeners) await listener.orderPlaced?.(order)
    return order
  }

  // Takes the units or throws: the row is locked by the update, so a concurrent checkout waits
  // and then sees what this one left.
  async #take(line: CartItem): Promise<void> {
    const result = await this.#db
      .updateTable('products')
      .set((eb) => ({ stock: eb('stock', '-', line.quantity) }))
      .where('id', '=', line.productId)
      .where('stock', '>=', line.quantity)
      .executeTakeFirst()
    if (result.numUpdatedRows > 0n) return
    const left = await this.#db
      .selectFrom('products')
      .select('stock')
      .where('id', '=', line.productId)
      .executeTakeFirst()
    throw new OutOfStockError(line.productId, left === undefined ? 0 : Number(left.stock))
  }

  // The key's order, when it is this request's: the same lines and card, or an empty cart (the
  // one that order emptied, retried with the cookie it set). Anything else under the key is
  // another checkout, which the key's order would silently stand for.
  async #findByKey(input: PlaceOrder, key: string): Promise<Order | undefined> {
    const row = await this.#db
      .selectFrom('orders')
      .select([...ORDER_COLUMNS, 'payment_method_id'])
      .where('user_id', '=', input.principal.id)
      .where('checkout_key', '=', key)
      .executeTakeFirst()
    if (row === undefined) return undefined
    const lines = await this.#db
      .selectFrom('order_lines')
      .selectAll()
      .where('order_id', '=', row.id)
      .orderBy('product_id')
      .execute()
    const order = toOrder(row, lines)
    const asked = (items: readonly { productId: number; quantity: number }[]) =>
      [...items]
        .sort((a, b) => a.productId - b.productId)
        .map((line) => `${line.productId}x${line.quantity}`)
        .join(',')
    const sameCart = input.cart.length === 0 || asked(input.cart) === asked(order.lines)
    if (!sameCart || row.payment_method_id !== input.paymentMethodId) {
      throw new IdempotencyKeyReusedError({ sameCart })
    }
    return order
  }
}

/** The shop's {@link Checkout}. */
export const CHECKOUT = token<Checkout>('shop.checkout')
