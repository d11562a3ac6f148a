import { resolveDatabase } from '@mortar/core'
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import type { CatalogDb } from '../catalog/index.js'
import { type Shopper, signUpShopper } from '../testing/shopper.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'
import { inputValue } from '../testing/html-form.js'
import { cartQuote } from '../cart/index.js'
import { Checkout, MAX_ORDER_TOTAL_CENTS } from './checkout.js'
import type { Order } from './order.js'
import type { OrdersDb } from './orders-db.js'

/** The part of @mortar/notify's ledger these tests read. */
interface LedgerDb {
  mortar_delivery: { recipient_id: string; channel: string; type: string; status: string }
}

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`checkout on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })
    const db = () => resolveDatabase<OrdersDb & CatalogDb & LedgerDb>(shop().app)

    afterAll(async () => {})

    async function setStock(productId: number, stock: number): Promise<void> {
      await db().updateTable('products').set({ stock }).where('id', '=', productId).execute()
    }

    async function stockOf(productId: number): Promise<number> {
      const row = await db()
        .selectFrom('products')
        .select('stock')
        .where('id', '=', productId)
        .executeTakeFirstOrThrow()
      return Number(row.stock)
    }

    async function ordersOf(userId: string): Promise<number> {
      const row = await db()
        .selectFrom('orders')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    }

    /** The notifications written for these users, as `channel:type`, sorted. */
    async function deliveriesOf(...userIds: string[]): Promise<string[]> {
      const rows = await db()
        .selectFrom('mortar_delivery')
        .select(['channel', 'type'])
        .where('recipient_id', 'in', userIds)
        .execute()
      return rows.map((row) => `${row.channel}:${row.type}`).sort()
    }

    /** Saves a second card for the shopper; its id is `card.json.id`. */
    function secondCard(shopper: Shopper, last4: string) {
      return shopper.jar.request('POST', '/payment-methods', {
        token: `tok_second_card_${last4}`,
        last4,
        brand: 'visa',
      })
    }

    async function fill(shopper: Shopper, lines: [number, number][]): Promise<void> {
      for (const [productId, quantity] of lines) {
        const added = await shopper.jar.request('POST', '/cart', { productId, quantity })
        expect(added.status).toBe(201)
      }
    }

    it('places an order priced from the catalog, takes the stock and empties the cart', async () => {
      await setStock(101, 5)
      await setStock(102, 5)
      const ada = await signUpShopper(shop().base, 'ada')
      await fill(ada, [
        [102, 1],
        [101, 2],
      ])
      const placed = await ada.jar.request('POST', '/orders', {
        paymentMethodId: ada.paymentMethodId,
      })
      expect(placed.status).toBe(201)
      const order = placed.json as unknown as Order
      const prices = await db()
        .selectFrom('products')
        .select(['id', 'name', 'price_cents'])
        .where('id', 'in', [101, 102])
        .orderBy('id')
        .execute()
      expect(order).toMatchObject({
        userId: ada.userId,
        status: 'placed',
        paymentLabel: 'visa •••• 4242',
        lines: prices.map((product, index) => ({
          productId: Number(product.id),
          name: product.name,
          unitPriceCents: Number(product.price_cents),
          quantity: index === 0 ? 2 : 1,
        })),
      })
      expect(order.totalCents).toBe(
        Number(prices[0]?.price_cents) * 2 + Number(prices[1]?.price_cents),
      )
      expect([await stockOf(101), await stockOf(102)]).toEqual([3, 4])
      expect((await ada.jar.request('GET', '/cart')).json.items).toEqual([])
      // The emptied cart (it keeps the order's key) expires like any other cart.
      const kept = await sql<{ n: number | string }>`
        select count(*) as n from mortar_state where namespace = 'shop.cart' and expires_at is null
      `.execute(db())
      expect(Number(kept.rows[0]?.n)).toBe(0)
      const history = await ada.jar.request('GET', '/orders')
      expect(history.json).toMatchObject({ items: [{ id: order.id }], nextCursor: null })
      expect((await ada.jar.request('GET', `/orders/${order.id}`)).json).toEqual(order)
      // The confirmation was written with the order: a mail and an inbox item, then sent.
      expect(await deliveriesOf(ada.userId)).toEqual([
        'inbox:order.confirmed',
        'mail:order.confirmed',
      ])
      const mail = await shop().mailbox.waitFor((m) => m.to === ada.email)
      expect(mail.subject).toBe(`Your order ${order.id.slice(0, 8)} is confirmed`)
      expect(mail.text).toContain(prices[0]?.name)
      await expect
        .poll(async () => (await ada.jar.request('GET', '/inbox/counts')).json, { timeout: 5_000 })
        .toMatchObject({ unread: 1 })
    })

    it('leaves nothing behind when a line is short: no order, every line’s stock as it was', async () => {
      await setStock(201, 5)
      await setStock(202, 1)
      const bob = await signUpShopper(shop().base, 'bob')
      // 201 is taken first (product order), then 202 fails: 201's decrement must roll back.
      await fill(bob, [
        [201, 2],
        [202, 3],
      ])
      const refused = await bob.jar.request('POST', '/orders', {
        paymentMethodId: bob.paymentMethodId,
      })
      expect(refused.status).toBe(409)
      expect(refused.json).toMatchObject({
        code: 'E_OUT_OF_STOCK',
        productId: 202,
        available: 1,
      })
      expect([await stockOf(201), await stockOf(202)]).toEqual([5, 1])
      expect(await ordersOf(bob.userId)).toBe(0)
      expect(await deliveriesOf(bob.userId)).toEqual([])
      // The cart is kept, so the shopper can fix it.
      expect(((await bob.jar.request('GET', '/cart')).json.items as unknown[]).length).toBe(2)
    })

    it('sells the last unit once when eight shoppers check it out at the same moment', async () => {
      await setStock(301, 1)
      const shoppers = await Promise.all(
        Array.from({ length: 8 }, (_, index) => signUpShopper(shop().base, `rush-${index}`)),
      )
      for (const shopper of shoppers) await fill(shopper, [[301, 1]])
      const answers = await Promise.all(
        shoppers.map((shopper) =>
          shopper.jar.request('POST', '/orders', { paymentMethodId: shopper.paymentMethodId }),
        ),
      )
      const statuses = answers.map((answer) => answer.status).sort()
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409])
      expect(await stockOf(301)).toBe(0)
      const sold = await db()
        .selectFrom('order_lines')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('product_id', '=', 301)
        .executeTakeFirstOrThrow()
      expect(Number(sold.n)).toBe(1)
      // One buyer, one confirmation: one mail reaches the mailbox, to the winner.
      const ids = shoppers.map((shopper) => shopper.userId)
      expect(await deliveriesOf(...ids)).toEqual(['inbox:order.confirmed', 'mail:order.confirmed'])
      const winner = shoppers[answers.findIndex((answer) => answer.status === 201)]
      await shop().mailbox.waitFor((m) => m.to === winner?.email)
      const emails = new Set(shoppers.map((shopper) => shopper.email))
      expect(
        shop()
          .mailbox.messages()
          .filter((m) => emails.has(m.to)).length,
      ).toBe(1)
    })

    it('places one order for a checkout key sent twice, and answers the second with it', async () => {
      await setStock(401, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[401, 1]])
      const body = { paymentMethodId: cy.paymentMethodId, checkoutKey: 'form-key-0001' }
      const [first, second] = await Promise.all([
        cy.jar.request('POST', '/orders', body),
        cy.jar.request('POST', '/orders', body),
      ])
      expect([first?.status, second?.status].sort()).toEqual([200, 201])
      expect(first?.json.id).toBe(second?.json.id)
      expect(await ordersOf(cy.userId)).toBe(1)
      expect(await stockOf(401)).toBe(9)
      expect(await deliveriesOf(cy.userId)).toEqual([
        'inbox:order.confirmed',
        'mail:order.confirmed',
      ])
    })

    it('places one order for a cart checked out twice at once or replayed with its old cookie, without a key', async () => {
      // Without a key every checkout placed an order: a retried request, a double click of a
      // script or an older cookie of the same cart sent again charged the shopper twice.
      await setStock(403, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[403, 2]])
      const beforeCheckout = cy.jar.cookieHeader
      const body = { paymentMethodId: cy.paymentMethodId }
      const [first, second] = await Promise.all([
        cy.jar.request('POST', '/orders', body),
        cy.jar.request('POST', '/orders', body),
      ])
      expect([first?.status, second?.status].sort()).toEqual([200, 201])
      expect(second?.json.id).toBe(first?.json.id)
      const replayed = await cy.jar.request('POST', '/orders', body, { cookie: beforeCheckout })
      expect(replayed.status).toBe(200)
      expect(replayed.json.id).toBe(first?.json.id)
      expect(await ordersOf(cy.userId)).toBe(1)
      expect(await stockOf(403)).toBe(8)
      // The ordered cart's key is gone with it: the next cart is a new order.
      await fill(cy, [[403, 1]])
      const next = await cy.jar.request('POST', '/orders', body)
      expect(next.status).toBe(201)
      expect(next.json.id).not.toBe(first?.json.id)
      expect(await ordersOf(cy.userId)).toBe(2)
      expect(await stockOf(403)).toBe(7)
    })

    it('orders a cart changed with an older cookie after its checkout as a new order, without a key', async () => {
      // With the cart in the cookie, an older cookie brought back the ordered cart and its
      // spent key: every checkout of it was a 422 until the key was renewed. The cart is kept
      // in the database now, so an older cookie changes the cart as it is.
      await setStock(405, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[405, 1]])
      const beforeCheckout = cy.jar.cookieHeader
      const body = { paymentMethodId: cy.paymentMethodId }
      const first = await cy.jar.request('POST', '/orders', body)
      expect(first.status).toBe(201)
      const changed = await cy.jar.request(
        'POST',
        '/cart',
        { productId: 405, quantity: 1 },
        { cookie: beforeCheckout },
      )
      expect(changed.json).toEqual({ items: [{ productId: 405, quantity: 1 }] })
      const second = await cy.jar.request('POST', '/orders', body)
      expect(second.status).toBe(201)
      expect(second.json.id).not.toBe(first.json.id)

      // Emptied with an older cookie after its order, the cart drops that order's key too.
      await fill(cy, [[405, 1]])
      const beforeThird = cy.jar.cookieHeader
      expect((await cy.jar.request('POST', '/orders', body)).status).toBe(201)
      await cy.jar.request('DELETE', '/cart', undefined, { cookie: beforeThird })
      await fill(cy, [[405, 3]])
      const fourth = await cy.jar.request('POST', '/orders', body)
      expect(fourth.status).toBe(201)
      expect(await ordersOf(cy.userId)).toBe(4)
      expect(await stockOf(405)).toBe(4)
    })

    it('answers a checkout of a cart by its JSON quote, and refuses it once a product lands meanwhile', async () => {
      // GET /cart had no quote: an API client could not send one without scraping the page.
      await setStock(407, 10)
      await setStock(408, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[407, 2]])
      const seen = await cy.jar.request('GET', '/cart')
      await fill(cy, [[408, 1]])
      const body = { paymentMethodId: cy.paymentMethodId }
      const stale = await cy.jar.request('POST', '/orders', { ...body, quote: seen.json.quote })
      expect(stale.status).toBe(409)
      expect(stale.json.code).toBe('E_CART_CHANGED')
      const current = await cy.jar.request('GET', '/cart')
      const placed = await cy.jar.request('POST', '/orders', { ...body, quote: current.json.quote })
      expect(placed.status).toBe(201)
      expect(placed.json.totalCents).toBe(current.json.totalCents)
      expect(await ordersOf(cy.userId)).toBe(1)
      expect([await stockOf(407), await stockOf(408)]).toEqual([8, 9])
    })

    it('refuses a checkout whose cart gained a product after it was read (409 E_CART_CHANGED), keeping both lines', async () => {
      // The product lands after the checkout read the cart and before its order's transaction
      // empties it (added from inside that transaction, SQLite's one writer would wait on it).
      await setStock(409, 10)
      await setStock(410, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[409, 1]])
      const place = Checkout.prototype.place
      Checkout.prototype.place = async function (this: Checkout, input) {
        expect((await cy.jar.request('POST', '/cart', { productId: 410 })).status).toBe(201)
        return place.call(this, input)
      }
      try {
        const refused = await cy.jar.request('POST', '/orders', {
          paymentMethodId: cy.paymentMethodId,
        })
        expect(refused.status).toBe(409)
        expect(refused.json.code).toBe('E_CART_CHANGED')
      } finally {
        Checkout.prototype.place = place
      }
      expect(await ordersOf(cy.userId)).toBe(0)
      expect([await stockOf(409), await stockOf(410)]).toEqual([10, 10])
      expect((await cy.jar.request('GET', '/cart')).json.items).toEqual([
        { productId: 409, quantity: 1 },
        { productId: 410, quantity: 1 },
      ])
    })

    it('empties a cart its own key ordered already, with another card, instead of ordering it twice', async () => {
      // The order's cookie lost, the same cart checked out with another card: the key was
      // renewed, and the next checkout placed (and charged) the cart a second time.
      await setStock(406, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      const card = await secondCard(cy, '2222')
      await fill(cy, [[406, 2]])
      const beforeCheckout = cy.jar.cookieHeader
      const first = await cy.jar.request('POST', '/orders', { paymentMethodId: cy.paymentMethodId })
      expect(first.status).toBe(201)
      const other = { paymentMethodId: card.json.id as string }
      const refused = await cy.jar.request('POST', '/orders', other, { cookie: beforeCheckout })
      expect(refused.status).toBe(422)
      expect(refused.json.code).toBe('E_IDEMPOTENCY_KEY_REUSED')
      expect((await cy.jar.request('GET', '/cart')).json.items).toEqual([])
      // The ordered cart keeps its order's key until the next product: the same answer again.
      const again = await cy.jar.request('POST', '/orders', other)
      expect(again.status).toBe(422)
      expect(again.json.code).toBe('E_IDEMPOTENCY_KEY_REUSED')
      expect(await ordersOf(cy.userId)).toBe(1)
      expect(await stockOf(406)).toBe(8)
    })

    it('refuses a checkout key sent again with another cart or card (422), placing nothing', async () => {
      // It answered the first order (200) and kept the new cart: the shopper took the new cart
      // for ordered, and nothing was.
      await setStock(404, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      const card = await secondCard(cy, '1111')
      await fill(cy, [[404, 1]])
      const key = { 'idempotency-key': 'api-key-0003' }
      const body = { paymentMethodId: cy.paymentMethodId }
      const first = await cy.jar.request('POST', '/orders', body, key)
      expect(first.status).toBe(201)
      // The first answer lost, its cookie kept: the emptied cart retried is the first order.
      const retried = await cy.jar.request('POST', '/orders', body, key)
      expect(retried.status).toBe(200)
      expect(retried.json.id).toBe(first.json.id)
      await fill(cy, [[404, 2]])
      for (const reused of [body, { paymentMethodId: card.json.id as string }]) {
        const answer = await cy.jar.request('POST', '/orders', reused, key)
        expect(answer.status).toBe(422)
        expect(answer.json.code).toBe('E_IDEMPOTENCY_KEY_REUSED')
      }
      // The same cart with the first order's key and another card is refused too.
      await cy.jar.request('DELETE', '/cart')
      await fill(cy, [[404, 1]])
      const otherCard = await cy.jar.request(
        'POST',
        '/orders',
        { paymentMethodId: card.json.id as string },
        key,
      )
      expect(otherCard.status).toBe(422)
      expect((await cy.jar.request('GET', '/cart')).json.items).toEqual([
        { productId: 404, quantity: 1 },
      ])
      expect(await ordersOf(cy.userId)).toBe(1)
      expect(await stockOf(404)).toBe(9)
    })

    it('takes a checkout key that differs only in case as another checkout, on every engine', async () => {
      // MariaDB's default collation took 'Form-Key-0002' for 'form-key-0002': the second order was
      // never placed and the shopper got the first one back.
      await setStock(402, 10)
      const cy = await signUpShopper(shop().base, 'cy')
      await fill(cy, [[402, 1]])
      const first = await cy.jar.request('POST', '/orders', {
        paymentMethodId: cy.paymentMethodId,
        checkoutKey: 'form-key-0002',
      })
      await fill(cy, [[402, 2]])
      const second = await cy.jar.request('POST', '/orders', {
        paymentMethodId: cy.paymentMethodId,
        checkoutKey: 'Form-Key-0002',
      })
      expect([first.status, second.status]).toEqual([201, 201])
      expect(second.json.id).not.toBe(first.json.id)
      expect(await ordersOf(cy.userId)).toBe(2)
      expect(await stockOf(402)).toBe(7)
    })

    it('refuses a quote of other lines or prices (409 E_CART_CHANGED), placing nothing', async () => {
      await setStock(601, 5)
      const flo = await signUpShopper(shop().base, 'flo')
      await fill(flo, [[601, 2]])
      const { price_cents } = await db()
        .selectFrom('products')
        .select('price_cents')
        .where('id', '=', 601)
        .executeTakeFirstOrThrow()
      const price = Number(price_cents)
      const checkout = (quote: string) =>
        flo.jar.request('POST', '/orders', { paymentMethodId: flo.paymentMethodId, quote })
      for (const seen of [
        [{ productId: 601, quantity: 1, unitPriceCents: price }],
        [{ productId: 601, quantity: 2, unitPriceCents: price - 1 }],
      ]) {
        const refused = await checkout(cartQuote(seen))
        expect(refused.json).toMatchObject({ status: 409, code: 'E_CART_CHANGED' })
      }
      expect(await ordersOf(flo.userId)).toBe(0)
      expect(await stockOf(601)).toBe(5)
      expect(await deliveriesOf(flo.userId)).toEqual([])
      const placed = await checkout(
        cartQuote([{ productId: 601, quantity: 2, unitPriceCents: price }]),
      )
      expect(placed.status).toBe(201)
      expect(placed.json.totalCents).toBe(price * 2)
    })

    it('refuses a total past what orders.total_cents holds (422 E_ORDER_TOO_LARGE), placing nothing', async () => {
      // 2 × $20,000,000 fits no 32-bit total: PostgreSQL answered a 500, SQLite stored it.
      await db()
        .updateTable('products')
        .set({ stock: 5, price_cents: 2_000_000_000 })
        .where('id', '=', 701)
        .execute()
      const gus = await signUpShopper(shop().base, 'gus')
      await fill(gus, [[701, 2]])
      const refused = await gus.jar.request('POST', '/orders', {
        paymentMethodId: gus.paymentMethodId,
      })
      expect(refused.json).toMatchObject({
        status: 422,
        code: 'E_ORDER_TOO_LARGE',
        totalCents: 4_000_000_000,
        max: MAX_ORDER_TOTAL_CENTS,
      })
      expect(await ordersOf(gus.userId)).toBe(0)
      expect(await stockOf(701)).toBe(5)
      expect(await deliveriesOf(gus.userId)).toEqual([])
      // The checkout page offers no form that can only fail: the reason, in money.
      const page = await gus.jar.request('GET', '/store/checkout')
      const reason =
        'This cart totals $40,000,000.00, more than one order may ($21,474,836.47): order it in parts.'
      expect(page.text).toContain(reason)
      expect(page.text).not.toContain('place-order')
      // A form of an older page, sent over this cart, goes back to the cart with the reason.
      const sent = await gus.jar.request(
        'POST',
        '/store/checkout',
        new URLSearchParams({
          _csrf: inputValue(page.text, '_csrf') ?? '',
          paymentMethodId: gus.paymentMethodId,
          quote: (await gus.jar.request('GET', '/cart')).json.quote as string,
        }),
      )
      expect(sent.headers.get('location')).toBe('/store/cart')
      expect((await gus.jar.request('GET', '/store/cart')).text).toContain(reason)
      expect(await ordersOf(gus.userId)).toBe(0)
      // At the bound, it is placed.
      await db()
        .updateTable('products')
        .set({ price_cents: MAX_ORDER_TOTAL_CENTS })
        .where('id', '=', 701)
        .execute()
      await gus.jar.request('DELETE', '/cart/701')
      await fill(gus, [[701, 1]])
      const placed = await gus.jar.request('POST', '/orders', {
        paymentMethodId: gus.paymentMethodId,
      })
      expect(placed.status).toBe(201)
      expect(placed.json.totalCents).toBe(MAX_ORDER_TOTAL_CENTS)
    })

    it('refuses an empty cart, another user’s card and a visitor, writing nothing', async () => {
      const dee = await signUpShopper(shop().base, 'dee')
      const eve = await signUpShopper(shop().base, 'eve')
      const empty = await dee.jar.request('POST', '/orders', {
        paymentMethodId: dee.paymentMethodId,
      })
      expect(empty.json).toMatchObject({ status: 422, code: 'E_CART_EMPTY' })
      await setStock(501, 3)
      await fill(dee, [[501, 1]])
      const foreignCard = await dee.jar.request('POST', '/orders', {
        paymentMethodId: eve.paymentMethodId,
      })
      expect(foreignCard.json).toMatchObject({ status: 404, code: 'E_NOT_FOUND' })
      const visitor = await fetch(`${shop().base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ paymentMethodId: dee.paymentMethodId }),
      })
      expect(visitor.status).toBe(401)
      expect(await ordersOf(dee.userId)).toBe(0)
      expect(await stockOf(501)).toBe(3)
      expect(await deliveriesOf(dee.userId, eve.userId)).toEqual([])
    })
  })
}
