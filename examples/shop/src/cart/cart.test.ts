import { describe, expect, it } from 'vitest'
import {
  addToCart,
  type Cart,
  CartFullError,
  CartQuantityError,
  MAX_CART_LINES,
  MAX_QUANTITY,
  removeFromCart,
} from './cart.js'

describe('the cart', () => {
  it('adds a new product as a line and more of a product to its line, leaving the old cart alone', () => {
    const empty: Cart = []
    const one = addToCart(empty, { productId: 7, quantity: 2 })
    const more = addToCart(one, { productId: 7, quantity: 3 })
    const two = addToCart(more, { productId: 9, quantity: 1 })
    expect(empty).toEqual([])
    expect(one).toEqual([{ productId: 7, quantity: 2 }])
    expect(two).toEqual([
      { productId: 7, quantity: 5 },
      { productId: 9, quantity: 1 },
    ])
  })

  it('refuses more of one product than a cart holds, instead of keeping part of it', () => {
    // It was capped at 99 and answered as added: 50 asked for, 1 kept, nothing said.
    const cart: Cart = [{ productId: 1, quantity: 98 }]
    expect(() => addToCart(cart, { productId: 1, quantity: 50 })).toThrow(CartQuantityError)
    expect(cart).toEqual([{ productId: 1, quantity: 98 }])
    expect(addToCart(cart, { productId: 1, quantity: 1 })).toEqual([
      { productId: 1, quantity: MAX_QUANTITY },
    ])
  })

  it('refuses a new product in a full cart but still adds to an existing line', () => {
    const full: Cart = Array.from({ length: MAX_CART_LINES }, (_, index) => ({
      productId: index + 1,
      quantity: 1,
    }))
    expect(() => addToCart(full, { productId: 999, quantity: 1 })).toThrow(CartFullError)
    expect(addToCart(full, { productId: 1, quantity: 1 })[0]).toEqual({ productId: 1, quantity: 2 })
  })

  it('removes a product’s line', () => {
    const cart: Cart = [
      { productId: 1, quantity: 1 },
      { productId: 2, quantity: 4 },
    ]
    expect(removeFromCart(cart, 1)).toEqual([{ productId: 2, quantity: 4 }])
    expect(removeFromCart(cart, 3)).toEqual(cart)
  })
})
