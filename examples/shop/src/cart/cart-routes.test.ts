import { resolveDatabase } from '@mortar/core'
import { STATE_STORE } from '@mortar/session'
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import type { CatalogDb } from '../catalog/index.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'
import { CART_TTL_SECONDS, MAX_PRODUCT_ID } from './cart.js'
import { cartQuote } from './cart-quote.js'

/** A cart's lines by product id, whatever order the changes landed in. */
function byProduct(items: unknown): unknown[] {
  return [...(items as { productId: number }[])].sort((a, b) => a.productId - b.productId)
}

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `the cart over HTTP on ${engine.describeTitle}`,
    () => {
      const shop = useTestShop({ engine })
      const browser = () => new CookieJar({ base: shop().base })

      afterAll(async () => {})

      it('keeps an anonymous visitor’s cart across requests, and only theirs', async () => {
        const visitor = browser()
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([])
        const added = await visitor.request('POST', '/cart', { productId: 12, quantity: 2 })
        expect(added.status).toBe(201)
        await visitor.request('POST', '/cart', { productId: 30 })
        await visitor.request('POST', '/cart', { productId: 12, quantity: 1 })
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([
          { productId: 12, quantity: 3 },
          { productId: 30, quantity: 1 },
        ])
        expect((await browser().request('GET', '/cart')).json.items).toEqual([])
      })

      it('gives every cart a ttl that each change extends, so clients sending no cookie leave no row for good', async () => {
        // Each first add wrote a row that nothing deleted: a script posting without a cookie
        // grew mortar_state by one row per request, for good.
        const db = resolveDatabase(shop().app)
        const carts = async (owner?: string) =>
          (
            await sql<{ owner: string; updated_at: unknown; expires_at: unknown }>`
              select owner, updated_at, expires_at from mortar_state
              where namespace = 'shop.cart' ${owner === undefined ? sql`` : sql`and owner = ${owner}`}
            `.execute(db)
          ).rows
        const ttlOf = (row: { updated_at: unknown; expires_at: unknown }) =>
          row.expires_at === null ? null : Number(row.expires_at) - Number(row.updated_at)
        const before = (await carts()).length
        for (let i = 0; i < 5; i++) {
          expect((await browser().request('POST', '/cart', { productId: 1 })).status).toBe(201)
        }
        const rows = await carts()
        expect(rows).toHaveLength(before + 5)
        expect(rows.map(ttlOf)).toEqual(rows.map(() => CART_TTL_SECONDS * 1_000))

        // A cart in use, ten minutes from expiry: its next change saves it with the whole ttl again.
        const visitor = browser()
        await visitor.request('POST', '/cart', { productId: 2 })
        const owners = new Set(rows.map((row) => row.owner))
        const mine = (await carts()).find((row) => !owners.has(row.owner))
        if (mine === undefined) throw new Error('The visitor’s cart was not saved.')
        await sql`update mortar_state set expires_at = ${Date.now() + 600_000} where owner = ${mine.owner}`.execute(
          db,
        )
        await visitor.request('POST', '/cart', { productId: 3 })
        const [extended] = await carts(mine.owner)
        expect(ttlOf(extended ?? mine)).toBe(CART_TTL_SECONDS * 1_000)
        expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(2)

        // Expired carts read as empty and the state store's prune deletes their rows.
        await sql`update mortar_state set expires_at = ${Date.now() - 1} where namespace = 'shop.cart' and owner <> ${mine.owner}`.execute(
          db,
        )
        expect(await shop().app.resolve(STATE_STORE).prune()).toBeGreaterThanOrEqual(5)
        expect((await carts()).map((row) => row.owner)).toEqual([mine.owner])
        expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(2)
      })

      it('keeps a cart that is only looked at: a view long after its last change gives it the whole ttl again', async () => {
        // Only a change extended the ttl: a cart viewed every day but left unchanged for 14
        // days expired under the shopper's eyes.
        const db = resolveDatabase(shop().app)
        const visitor = browser()
        await visitor.request('POST', '/cart', { productId: 4 })
        const [cart] = (
          await sql<{ owner: string }>`
            select owner from mortar_state where namespace = 'shop.cart' order by updated_at desc
          `.execute(db)
        ).rows
        if (cart === undefined) throw new Error('The visitor’s cart was not saved.')
        // Saved 13 days and 23 hours ago, so an hour from expiry.
        const savedAt = Date.now() - CART_TTL_SECONDS * 1_000 + 3_600_000
        await sql`update mortar_state set updated_at = ${savedAt}, expires_at = ${savedAt + CART_TTL_SECONDS * 1_000} where owner = ${cart.owner}`.execute(
          db,
        )
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([
          { productId: 4, quantity: 1 },
        ])
        const [viewed] = (
          await sql<{ expires_at: unknown }>`
            select expires_at from mortar_state where owner = ${cart.owner}
          `.execute(db)
        ).rows
        expect(Number(viewed?.expires_at)).toBeGreaterThan(
          Date.now() + (CART_TTL_SECONDS - 60) * 1_000,
        )
        // A view soon after a save writes nothing.
        const [before] = (
          await sql<{
            version: unknown
          }>`select version from mortar_state where owner = ${cart.owner}`.execute(db)
        ).rows
        await visitor.request('GET', '/cart')
        const [after] = (
          await sql<{
            version: unknown
          }>`select version from mortar_state where owner = ${cart.owner}`.execute(db)
        ).rows
        expect(Number(after?.version)).toBe(Number(before?.version))
      })

      it('keeps every product added at the same moment with one cookie, of a visitor and after login', async () => {
        // The cart lived in the session cookie: each request read the cart its cookie held and
        // sent back that cart plus its own line, and the last cookie written won.
        const visitor = browser()
        expect((await visitor.request('POST', '/cart', { productId: 1 })).status).toBe(201)
        const more = [2, 3, 4, 5, 6, 7, 8, 9]
        const added = await Promise.all(
          more.map((productId) => visitor.request('POST', '/cart', { productId })),
        )
        expect(added.map((answer) => answer.status)).toEqual(more.map(() => 201))
        const three = await Promise.all(
          [1, 2, 3].map(() => visitor.request('POST', '/cart', { productId: 1 })),
        )
        expect(three.map((answer) => answer.status)).toEqual([201, 201, 201])
        expect(byProduct((await visitor.request('GET', '/cart')).json.items)).toEqual(
          [1, ...more].map((productId) => ({ productId, quantity: productId === 1 ? 4 : 1 })),
        )

        // A session with no cart yet: the first changes, sent at once, find one cart too.
        const shopper = browser()
        const signup = await shopper.request('POST', '/auth/signup', {
          email: `at-once-${engine.title}@example.com`.toLowerCase().replace(/[^a-z0-9@.-]/g, ''),
          password: 'correct horse battery',
        })
        expect(signup.status).toBe(201)
        const first = await Promise.all(
          more.map((productId) => shopper.request('POST', '/cart', { productId })),
        )
        expect(first.map((answer) => answer.status)).toEqual(more.map(() => 201))
        expect(byProduct((await shopper.request('GET', '/cart')).json.items)).toEqual(
          more.map((productId) => ({ productId, quantity: 1 })),
        )
      })

      it('gives JSON clients the total and the quote a checkout sends', async () => {
        const visitor = browser()
        expect((await visitor.request('GET', '/cart')).json).toEqual({
          items: [],
          totalCents: 0,
          quote: cartQuote([]),
        })
        await visitor.request('POST', '/cart', { productId: 21, quantity: 2 })
        await visitor.request('POST', '/cart', { productId: 20 })
        const prices = await resolveDatabase<CatalogDb>(shop().app)
          .selectFrom('products')
          .select(['id', 'price_cents'])
          .where('id', 'in', [20, 21])
          .orderBy('id')
          .execute()
        const [twenty, twentyOne] = prices.map((row) => Number(row.price_cents))
        expect((await visitor.request('GET', '/cart')).json).toEqual({
          items: [
            { productId: 21, quantity: 2 },
            { productId: 20, quantity: 1 },
          ],
          totalCents: Number(twentyOne) * 2 + Number(twenty),
          quote: cartQuote([
            { productId: 20, quantity: 1, unitPriceCents: Number(twenty) },
            { productId: 21, quantity: 2, unitPriceCents: Number(twentyOne) },
          ]),
        })
      })

      it('keeps the cart through sign-up and login, and empties it at logout', async () => {
        const visitor = browser()
        await visitor.request('POST', '/cart', { productId: 5, quantity: 4 })
        const email = `cart-${Date.now()}@example.com`
        const signup = await visitor.request('POST', '/auth/signup', {
          email,
          password: 'correct horse battery',
        })
        expect(signup.status).toBe(201)
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([
          { productId: 5, quantity: 4 },
        ])
        // The cart moved to its new id at sign-up expires too: it was saved for good.
        const forGood = await sql<{ n: number | string }>`
          select count(*) as n from mortar_state where namespace = 'shop.cart' and expires_at is null
        `.execute(resolveDatabase(shop().app))
        expect(Number(forGood.rows[0]?.n)).toBe(0)
        await visitor.request('POST', '/cart', { productId: 6 })
        expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(2)

        await visitor.request('POST', '/auth/logout')
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([])
      })

      for (const way of ['login', 'signup'] as const) {
        it(`leaves a copy of the cookie from before ${way} no hold on the account's cart`, async () => {
          // Login renewed the session id but kept its data, cart id included: the copy named the
          // very cart the account went on filling.
          const attacker = browser()
          expect((await attacker.request('POST', '/cart', { productId: 7 })).status).toBe(201)
          const victim = browser()
          const credentials = {
            email: `fixed-${way}-${engine.title}-${Date.now()}@example.com`
              .toLowerCase()
              .replace(/[^a-z0-9@.-]/g, ''),
            password: 'correct horse battery',
          }
          if (way === 'login') {
            expect((await browser().request('POST', '/auth/signup', credentials)).status).toBe(201)
          }
          const signedIn = await victim.request('POST', `/auth/${way}`, credentials, {
            cookie: attacker.cookieHeader,
          })
          expect(signedIn.status).toBe(way === 'login' ? 200 : 201)
          expect((await victim.request('POST', '/cart', { productId: 8 })).status).toBe(201)
          expect((await victim.request('GET', '/cart')).json.items).toEqual([
            { productId: 7, quantity: 1 },
            { productId: 8, quantity: 1 },
          ])

          expect((await attacker.request('GET', '/cart')).json.items).toEqual([])
          expect((await attacker.request('POST', '/cart', { productId: 9 })).status).toBe(201)
          expect((await victim.request('GET', '/cart')).json.items).toEqual([
            { productId: 7, quantity: 1 },
            { productId: 8, quantity: 1 },
          ])
        })
      }

      it("gives an account that signs in over another's session an empty cart, leaving the first's", async () => {
        // A shared computer: the second shopper logs in without the first logging out.
        const shared = browser()
        const account = (name: string) => ({
          email: `switch-${name}-${engine.title}-${Date.now()}@example.com`
            .toLowerCase()
            .replace(/[^a-z0-9@.-]/g, ''),
          password: 'correct horse battery',
        })
        const first = account('first')
        const second = account('second')
        expect((await browser().request('POST', '/auth/signup', second)).status).toBe(201)
        expect((await shared.request('POST', '/auth/signup', first)).status).toBe(201)
        await shared.request('POST', '/cart', { productId: 11, quantity: 2 })
        expect((await shared.request('POST', '/auth/login', second)).status).toBe(200)
        expect((await shared.request('GET', '/cart')).json.items).toEqual([])
      })

      it('removes one product and empties the cart', async () => {
        const visitor = browser()
        await visitor.request('POST', '/cart', { productId: 1 })
        await visitor.request('POST', '/cart', { productId: 2 })
        const removed = await visitor.request('DELETE', '/cart/1')
        expect(removed.json).toEqual({ items: [{ productId: 2, quantity: 1 }] })
        const missing = await visitor.request('DELETE', '/cart/1')
        expect(missing.status).toBe(404)
        expect(missing.json).toMatchObject({ code: 'E_NOT_FOUND' })
        expect((await visitor.request('DELETE', '/cart')).json).toEqual({ items: [] })
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([])
      })

      it('refuses a malformed line with a 422 problem and leaves the cart as it was', async () => {
        const visitor = browser()
        await visitor.request('POST', '/cart', { productId: 3 })
        for (const body of [
          { productId: -1 },
          { productId: 1.5 },
          { productId: '3' },
          { productId: 3, quantity: 0 },
          { productId: 3, quantity: 100 },
          { productId: MAX_PRODUCT_ID + 1 },
          {},
        ]) {
          const response = await visitor.request('POST', '/cart', body)
          expect(response.status).toBe(422)
          expect(response.json).toMatchObject({ code: 'E_VALIDATION' })
        }
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([
          { productId: 3, quantity: 1 },
        ])
      })

      it('refuses a product the catalog does not know with a 422 problem', async () => {
        const visitor = browser()
        const unknown = await visitor.request('POST', '/cart', { productId: 50_000 })
        expect(unknown.status).toBe(422)
        expect(unknown.json).toMatchObject({
          code: 'E_VALIDATION',
          errors: [{ path: 'productId', code: 'unknown_product' }],
        })
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([])
      })

      it('refuses more than 99 of one product with E_CART_QUANTITY, keeping the line as it was', async () => {
        const visitor = browser()
        expect(
          (await visitor.request('POST', '/cart', { productId: 4, quantity: 98 })).status,
        ).toBe(201)
        const over = await visitor.request('POST', '/cart', { productId: 4, quantity: 2 })
        expect(over.status).toBe(422)
        expect(over.json).toMatchObject({ code: 'E_CART_QUANTITY' })
        expect((await visitor.request('GET', '/cart')).json.items).toEqual([
          { productId: 4, quantity: 98 },
        ])
      })

      it('refuses a 51st product with E_CART_FULL', async () => {
        const visitor = browser()
        for (let productId = 101; productId <= 150; productId += 1) {
          expect((await visitor.request('POST', '/cart', { productId, quantity: 99 })).status).toBe(
            201,
          )
        }
        const full = await visitor.request('POST', '/cart', { productId: 51 })
        expect(full.status).toBe(422)
        expect(full.json).toMatchObject({ code: 'E_CART_FULL' })
        expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(50)
      })
    },
  )
}
