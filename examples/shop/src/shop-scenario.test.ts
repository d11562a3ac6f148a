import { ANALYTICS } from '@mortar/analytics'
import { JOBS, resolveDatabase } from '@mortar/core'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import type { CatalogDb } from './catalog/index.js'
import { CookieJar } from './testing/cookie-jar.js'
import { logIn, signUp, signUpShopper } from './testing/shopper.js'
import { shopTestEngines, useTestShop } from './testing/test-shop.js'

const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''

/**
 * The browser scenario of shop-in-a-browser.test.ts over HTTP, on every engine: a visitor
 * searches, views a product, adds it to the cart, signs up and checks out; the confirmation is
 * in the mailbox and the inbox has one unread item; the admin sees the purchase and the search
 * on the dashboard; another customer sees none of it.
 */
const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const runs = shopTestEngines().flatMap((engine) => [
  { engine, redis: undefined, title: engine.title, skip: engine.skip },
  // The server engines again with REDIS_URL: sessions, the login throttle and BullMQ on Redis.
  ...(engine.engine === 'sqlite'
    ? []
    : [
        {
          engine,
          redis: redisUrl,
          title: `${engine.title} with Redis and BullMQ`,
          skip:
            engine.skip ?? (redisUrl === undefined ? 'MORTAR_TEST_REDIS_URL is unset' : undefined),
        },
      ]),
])

for (const { engine, redis, title, skip } of runs) {
  // Skipped only when this run's MORTAR_TEST_*_URL variable is unset (the title names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(skip !== undefined)(
    `the shop scenario on ${title}${skip === undefined ? '' : ` (skipped: ${skip})`}`,
    () => {
      const shop = useTestShop({ engine, ...(redis === undefined ? {} : { redisUrl: redis }) })

      beforeAll(async () => {
        await resolveDatabase<CatalogDb>(shop().app)
          .updateTable('products')
          .set({ stock: 1 })
          .where('id', '=', 77)
          .execute()
      })

      it('takes a visitor from a search to a confirmed order, and shows it to the admin only', async () => {
        // The confirmation mail below is sent by a job: on BullMQ whenever Redis is configured.
        expect(shop().app.resolve(JOBS).engine).toBe(redis === undefined ? 'database' : 'bullmq')
        const visitor = new CookieJar({ base: shop().base, userAgent: 'scenario' })
        const search = await visitor.request('GET', '/store?q=Scenario%20search')
        expect(search.status).toBe(200)
        const product = await visitor.request('GET', '/store/products/77')
        expect(product.status).toBe(200)
        const added = await visitor.request(
          'POST',
          '/store/cart',
          new URLSearchParams({ _csrf: csrfOf(product.text), productId: '77', quantity: '1' }),
        )
        expect(added.status).toBe(303)
        const { email, paymentMethodId } = await signUp(
          visitor,
          `scenario-${Date.now()}@example.com`,
        )
        const order = await visitor.request('POST', '/orders', { paymentMethodId })
        expect(order.status).toBe(201)
        const orderId = order.json.id as string

        const mail = await shop().mailbox.waitFor((m) => m.to === email)
        expect(mail.subject).toBe(`Your order ${orderId.slice(0, 8)} is confirmed`)
        await vi.waitFor(async () => {
          const page = await visitor.request('GET', '/store/orders')
          expect(/<span class="badge" id="unread">(\d+)<\/span>/.exec(page.text)?.[1]).toBe('1')
        })

        await shop().app.resolve(ANALYTICS).flush({ timeoutMs: 5_000 })
        const config = shop().app.config
        const admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
        const dashboard = await admin.request('GET', '/admin/analytics')
        expect(dashboard.text).toContain('scenario search')
        expect(/data-testid="series-total-order_completed">(\d+)</.exec(dashboard.text)?.[1]).toBe(
          '1',
        )
        expect((await admin.request('GET', '/admin/orders')).text).toContain(orderId.slice(0, 8))

        const other = await signUpShopper(shop().base, 'other')
        expect((await other.jar.request('GET', `/orders/${orderId}`)).status).toBe(404)
        expect((await other.jar.request('GET', `/store/orders/${orderId}`)).status).toBe(404)
        expect((await other.jar.request('GET', '/orders')).json.items).toEqual([])
        expect((await other.jar.request('GET', '/inbox')).json.items).toEqual([])
        // The last unit is sold: the other customer's checkout of it fails and mails nothing.
        await other.jar.request('POST', '/cart', { productId: 77 })
        const late = await other.jar.request('POST', '/orders', {
          paymentMethodId: other.paymentMethodId,
        })
        expect(late.json).toMatchObject({ status: 409, code: 'E_OUT_OF_STOCK' })
        expect(shop().mailbox.messages(other.email)).toEqual([])
      })
    },
  )
}
