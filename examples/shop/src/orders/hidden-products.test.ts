import { resolveDatabase } from '@mortar/core'
import { afterAll, describe, expect, it } from 'vitest'
import { shopPolicyRules } from '../access/index.js'
import type { CatalogDb } from '../catalog/index.js'
import { inputValue } from '../testing/html-form.js'
import { signUpShopper } from '../testing/shopper.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'
import type { OrdersDb } from './orders-db.js'

const WITHDRAWN = 'Withdrawn from sale.'

// A shop built on this one that adds a rule hiding products: the cart and the checkout read
// products through it, so a hidden product already in a cart is sold out, never ordered.
const hidingPolicy = shopPolicyRules
  .deny('read', 'products', (p) => p.eq('description', WITHDRAWN), { id: 'withdrawn-hidden' })
  .build()

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `products the policy hides, on ${engine.describeTitle}`,
    () => {
      const shop = useTestShop({ engine, policy: hidingPolicy })
      const db = () => resolveDatabase<OrdersDb & CatalogDb>(shop().app)

      afterAll(async () => {})

      const stocks = async () =>
        (
          await db()
            .selectFrom('products')
            .select('stock')
            .where('id', 'in', [301, 302])
            .orderBy('id')
            .execute()
        ).map((row) => Number(row.stock))

      it('are sold out at checkout, on its page and through the API, once hidden in a cart', async () => {
        await db().updateTable('products').set({ stock: 5 }).where('id', 'in', [301, 302]).execute()
        const shopper = await signUpShopper(shop().base, 'hidden')
        const { jar } = shopper
        expect((await jar.request('POST', '/cart', { productId: 301, quantity: 1 })).status).toBe(
          201,
        )
        expect((await jar.request('POST', '/cart', { productId: 302, quantity: 2 })).status).toBe(
          201,
        )
        const shown = await jar.request('GET', '/store/checkout')
        expect(shown.text).toContain('id="place-order"')
        await db()
          .updateTable('products')
          .set({ description: WITHDRAWN })
          .where('id', '=', 301)
          .execute()

        // The form shown before it was hidden: back to the cart, nothing ordered or taken.
        const sent = await jar.request(
          'POST',
          '/store/checkout',
          new URLSearchParams({
            _csrf: inputValue(shown.text, '_csrf') ?? '',
            checkoutKey: inputValue(shown.text, 'checkoutKey') ?? '',
            paymentMethodId: inputValue(shown.text, 'paymentMethodId') ?? '',
            quote: inputValue(shown.text, 'quote') ?? '',
          }),
        )
        expect(sent.headers.get('location')).toBe('/store/cart')
        const cart = await jar.request('GET', '/store/cart')
        expect(cart.text).toContain('Product 301 is sold out; remove it from your cart.')
        expect(cart.text).toContain('Product 301 (no longer sold)')
        // The page priced it at $0 and offered a form every checkout of which was refused.
        const page = await jar.request('GET', '/store/checkout')
        expect(page.text).toContain('Product 301 is no longer sold')
        expect(page.text).not.toContain('id="place-order"')

        const placed = await jar.request('POST', '/orders', {
          paymentMethodId: shopper.paymentMethodId,
        })
        expect(placed.status).toBe(409)
        expect(placed.json).toMatchObject({ code: 'E_OUT_OF_STOCK', productId: 301, available: 0 })
        expect(await stocks()).toEqual([5, 5])
        const orders = await db()
          .selectFrom('orders')
          .select('id')
          .where('user_id', '=', shopper.userId)
          .execute()
        expect(orders).toEqual([])

        // Without it, the rest of the cart is ordered.
        expect((await jar.request('DELETE', '/cart/301')).status).toBe(200)
        const rest = await jar.request('POST', '/orders', {
          paymentMethodId: shopper.paymentMethodId,
        })
        expect(rest.status).toBe(201)
        expect(rest.json).toMatchObject({ lines: [{ productId: 302, quantity: 2 }] })
        expect(await stocks()).toEqual([5, 3])
      })
    },
  )
}
