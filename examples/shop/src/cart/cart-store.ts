import { randomBytes } from 'node:crypto'
import { type Clock, NotFoundError, token, ValidationError } from '@mortar/core'
import {
  type Session,
  StateConflictError,
  type StateNamespace,
  type StateStore,
} from '@mortar/session'
import type { z } from 'zod'
import {
  addToCart,
  CART_TTL_SECONDS,
  type CartItem,
  type CartSessionData,
  removeFromCart,
  type StoredCart,
  storedCartSchema,
} from './cart.js'

/** Whether a product exists; lets the cart refuse ids the catalog does not know. */
export type ProductExists = (productId: number) => Promise<boolean>

/** A cart as read: what is stored, where, and its version (0: nothing stored yet). */
export interface CartState extends StoredCart {
  readonly id: string
  readonly version: number
}

// A cart is one state entry under its id.
const CART_KEY = 'cart'
// A change retries its read-then-compare-and-set this often when other changes of the same cart
// win; each round one of them does, so only a burst of this many at once can exhaust it.
const CHANGE_ATTEMPTS = 20
// A cart read this long after its last save is saved again, so one that is looked at (though
// not changed) lives on; at most one such save per half ttl, so reads rarely write.
const KEEP_ALIVE_AFTER_MS = (CART_TTL_SECONDS * 1_000) / 2

/**
 * The carts, each one versioned entry of `@mortar/session`'s state store in the database, under
 * an id its session keeps. Every change is a read, then a save on the condition that the
 * version is still the one read, retried when another change came first: two products added at
 * the same moment (two tabs, a double click, a script) both land. A cart in the session cookie
 * lost one of them, as the last cookie written won. Every save gives the cart
 * {@link CART_TTL_SECONDS} more, and so does a read half that long after the last save, so a
 * cart in use (changed or only looked at) lives on, and one abandoned (by a visitor who never
 * comes back, or a script sending no cookie) expires and is pruned by `stateModule`'s hourly
 * schedule: the table does not grow with every first add.
 */
export class Carts {
  readonly #carts: StateNamespace<StoredCart, z.input<typeof storedCartSchema>>
  readonly #clock: Clock

  constructor(state: StateStore, clock: Clock) {
    this.#carts = state.namespace('shop.cart', storedCartSchema)
    this.#clock = clock
  }

  /** The session's cart (empty when it has none). */
  async read(session: Session<CartSessionData>): Promise<CartState> {
    // A session that has not kept an id yet may still have a cart under its own id: one whose
    // first change's answer (and cookie) was lost.
    const id = session.data.cartId ?? session.id
    const entry = await this.#carts.get(id, CART_KEY)
    if (entry === undefined) return { id, version: 0, lines: [] }
    if (
      entry.value.lines.length > 0 &&
      this.#clock.nowMs() - entry.updatedAt.getTime() >= KEEP_ALIVE_AFTER_MS
    ) {
      try {
        const kept = await this.#carts.put(id, CART_KEY, entry.value, {
          expectedVersion: entry.version,
          ttl: CART_TTL_SECONDS,
        })
        return { id, version: kept.version, ...kept.value }
      } catch (error) {
        // Changed meanwhile, which saved it with its ttl: read that.
        if (!(error instanceof StateConflictError)) throw error
        return this.read(session)
      }
    }
    return { id, version: entry.version, ...entry.value }
  }

  /**
   * Adds `item` to the session's cart, giving the cart a checkout key if it has none. A product
   * the catalog does not know is a 422 `E_VALIDATION`; a full cart a 422 `E_CART_FULL`; more
   * than 99 of one product a 422 `E_CART_QUANTITY`.
   */
  async add(
    session: Session<CartSessionData>,
    item: CartItem,
    productExists?: ProductExists,
  ): Promise<readonly CartItem[]> {
    if (productExists !== undefined && !(await productExists(item.productId))) {
      throw new ValidationError(
        [{ path: 'productId', code: 'unknown_product', message: 'There is no such product.' }],
        `There is no product ${item.productId}; pick one from GET /products.`,
      )
    }
    return this.#change(session, (cart) => ({
      lines: addToCart(cart.lines, item),
      key: cart.key ?? newCheckoutKey(),
    }))
  }

  /** Removes the product's line (and the cart's key with its last line); a 404 when it has none. */
  async remove(session: Session<CartSessionData>, productId: number): Promise<readonly CartItem[]> {
    return this.#change(session, (cart) => {
      if (!cart.lines.some((line) => line.productId === productId)) {
        throw new NotFoundError(`Product ${productId} is not in your cart.`)
      }
      const lines = removeFromCart(cart.lines, productId)
      return lines.length === 0 ? { lines } : { lines, key: cart.key }
    })
  }

  /** Empties the session's cart and drops its checkout key: the next cart is a new order. */
  async empty(session: Session<CartSessionData>): Promise<void> {
    await this.#change(session, () => ({ lines: [] }))
  }

  /**
   * Empties `cart`, ordered under `checkoutKey`, if it is still the version read; run in the
   * order's transaction, so the order and the emptied cart commit together. False when the cart
   * changed since it was read: the order must not be placed.
   */
  async ordered(cart: CartState, checkoutKey: string): Promise<boolean> {
    try {
      await this.#carts.put(
        cart.id,
        CART_KEY,
        { lines: [], orderedKey: checkoutKey },
        { expectedVersion: cart.version, ttl: CART_TTL_SECONDS },
      )
      return true
    } catch (error) {
      if (error instanceof StateConflictError) return false
      throw error
    }
  }

  /**
   * Logs `session` in through `login`, then moves its cart to a new random id (its lines, under
   * a new checkout key) and deletes the old entry. Login renews the session's id but keeps its
   * data, and a copy of the cookie from before it still names the old cart id: left there, it
   * would go on reading and filling the account's cart (cart fixation). Over another account's
   * signed-in session, login empties the data and the cart stays where it was: it is not the
   * new account's to take.
   */
  async keepThroughLogin(
    session: Session<CartSessionData>,
    login: () => Promise<void>,
  ): Promise<void> {
    const previousUser = session.userId
    const oldId = session.data.cartId ?? session.id
    await login()
    if (previousUser !== undefined && previousUser !== session.userId) return
    const newId = randomToken()
    for (let attempt = 1; ; attempt++) {
      const entry = await this.#carts.get(oldId, CART_KEY)
      if (entry === undefined) break
      if (entry.value.lines.length > 0) {
        await this.#carts.put(
          newId,
          CART_KEY,
          { lines: entry.value.lines, key: newCheckoutKey() },
          { ttl: CART_TTL_SECONDS },
        )
      }
      try {
        // Only the version copied: a product added to the old id meanwhile is copied next round.
        await this.#carts.delete(oldId, CART_KEY, { expectedVersion: entry.version })
        break
      } catch (error) {
        if (!(error instanceof StateConflictError) || attempt === CHANGE_ATTEMPTS) throw error
      }
    }
    session.data.cartId = newId
    await session.save()
  }

  async #change(
    session: Session<CartSessionData>,
    change: (cart: StoredCart) => StoredCart,
  ): Promise<readonly CartItem[]> {
    if (session.data.cartId === undefined) {
      // The session's id, not a new random one: requests sent at once with the same cookie
      // before any of them came back all find this one cart.
      session.data.cartId = session.id
      await session.save()
    }
    for (let attempt = 1; ; attempt++) {
      const cart = await this.read(session)
      const next = change(cart)
      try {
        await this.#carts.put(cart.id, CART_KEY, next, {
          expectedVersion: cart.version,
          ttl: CART_TTL_SECONDS,
        })
        return next.lines
      } catch (error) {
        if (!(error instanceof StateConflictError) || attempt === CHANGE_ATTEMPTS) throw error
      }
    }
  }
}

/** The shop's {@link Carts}. */
export const CARTS = token<Carts>('shop.carts')

/** A random checkout key, for a cart or a checkout form. */
export function newCheckoutKey(): string {
  return randomToken()
}

/** 128 random bits, URL-safe: a cart id or a checkout key. */
function randomToken(): string {
  return randomBytes(16).toString('base64url')
}
