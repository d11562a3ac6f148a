import { resolveDatabase } from '@mortar/core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { CatalogDb } from './catalog/index.js'
import type { OrdersDb } from './orders/index.js'
import { CookieJar } from './testing/cookie-jar.js'
import { routeList } from './testing/route-list.js'
import { logIn, type Shopper, signUpShopper } from './testing/shopper.js'
import { shopTestEngines, startTestShop, type TestShop } from './testing/test-shop.js'

/** What the cases see: Ada owns an order, a card, a device and a cart; Bob is another customer. */
interface World {
  readonly shop: TestShop
  readonly ada: Shopper
  readonly bob: Shopper
  readonly visitor: CookieJar
  readonly admin: CookieJar
  readonly orderId: string
  readonly adaDevice: string
  /** The id of Ada's order confirmation in her inbox. */
  readonly adaInboxItem: string
}

type Case = (world: World) => Promise<void>

const form = (fields: Record<string, string> = {}) => new URLSearchParams(fields)

async function orderStatus(world: World): Promise<string> {
  const row = await resolveDatabase<OrdersDb>(world.shop.app)
    .selectFrom('orders')
    .select('status')
    .where('id', '=', world.orderId)
    .executeTakeFirstOrThrow()
  return row.status
}

/** Whether Ada's confirmation is still unread (other items may arrive meanwhile: the shipping update). */
async function adaItemUnread(world: World): Promise<boolean> {
  const unread = await world.ada.jar.request('GET', '/inbox?status=unread&limit=100')
  return (unread.json.items as { id: string }[]).some((item) => item.id === world.adaInboxItem)
}

async function adaCardCount(world: World): Promise<number> {
  const list = await world.ada.jar.request('GET', '/payment-methods')
  return (list.json.items as unknown[]).length
}

/**
 * One case per route with a parameter: Bob (and a visitor) use Ada's id and are refused as if
 * it did not exist, nothing of Ada's changes, and Ada (or the admin) gets through, which proves
 * the route works. Routes whose id is not a user's (a product) or that act on the caller's own
 * session (the cart) show that Bob's call leaves Ada alone.
 */
const CASES: Record<string, Case> = {
  'GET /orders/:id': async (w) => {
    const path = `/orders/${w.orderId}`
    expect((await w.bob.jar.request('GET', path)).json).toMatchObject({
      status: 404,
      code: 'E_NOT_FOUND',
    })
    expect((await w.visitor.request('GET', path)).status).toBe(401)
    expect((await w.ada.jar.request('GET', path)).json).toMatchObject({ id: w.orderId })
  },
  'GET /store/orders/:id': async (w) => {
    const path = `/store/orders/${w.orderId}`
    const bob = await w.bob.jar.request('GET', path)
    expect(bob.status).toBe(404)
    expect(bob.text).not.toContain(w.orderId.slice(0, 8))
    expect((await w.visitor.request('GET', path)).headers.get('location')).toMatch(
      /^\/store\/login/,
    )
    const ada = await w.ada.jar.request('GET', path)
    expect(ada.status).toBe(200)
    expect(ada.text).toContain(w.orderId.slice(0, 8))
  },
  'DELETE /payment-methods/:id': async (w) => {
    const path = `/payment-methods/${w.ada.paymentMethodId}`
    expect((await w.bob.jar.request('DELETE', path)).status).toBe(404)
    expect((await w.visitor.request('DELETE', path)).status).toBe(401)
    expect(await adaCardCount(w)).toBe(1)
  },
  'POST /store/account/payment-methods/:id/delete': async (w) => {
    const path = `/store/account/payment-methods/${w.ada.paymentMethodId}/delete`
    expect((await w.bob.jar.request('POST', path, form())).status).toBe(404)
    expect((await w.visitor.request('POST', path, form())).status).toBe(303)
    expect(await adaCardCount(w)).toBe(1)
  },
  'DELETE /auth/sessions/:device': async (w) => {
    const path = `/auth/sessions/${w.adaDevice}`
    expect((await w.bob.jar.request('DELETE', path)).status).toBe(404)
    expect((await w.visitor.request('DELETE', path)).status).toBe(401)
    expect((await w.ada.jar.request('GET', '/me')).status).toBe(200)
  },
  'GET /admin/orders/:id': async (w) => {
    const path = `/admin/orders/${w.orderId}`
    const bob = await w.bob.jar.request('GET', path)
    expect(bob.status).toBe(403)
    expect(bob.text).not.toContain(w.orderId.slice(0, 8))
    expect((await w.ada.jar.request('GET', path)).status).toBe(403)
    expect((await w.visitor.request('GET', path)).status).toBe(303)
    expect((await w.admin.request('GET', path)).text).toContain(w.ada.email)
  },
  'POST /admin/orders/:id/status': async (w) => {
    const path = `/admin/orders/${w.orderId}/status`
    const shipped = form({ status: 'shipped', trackingCode: 'TRACK-1' })
    expect((await w.bob.jar.request('POST', path, shipped)).status).toBe(403)
    expect((await w.ada.jar.request('POST', path, shipped)).status).toBe(403)
    expect((await w.bob.jar.request('POST', path, { status: 'shipped' })).json).toMatchObject({
      status: 403,
    })
    expect(await orderStatus(w)).toBe('placed')
    expect((await w.admin.request('POST', path, { status: 'shipped' })).json).toMatchObject({
      status: 'shipped',
    })
  },
  'POST /dev/sms/2010-04-01/Accounts/:sid/Messages.json': async (w) => {
    // Not a user's resource: the development SMS stand-in, which takes only its own account.
    const config = w.shop.app.config
    const send = (sid: string, token: string) =>
      fetch(`${w.shop.base}/dev/sms/2010-04-01/Accounts/${sid}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: '+15550123', From: config.smsFrom, Body: 'hi' }).toString(),
      })
    expect((await send('ACother', config.smsAuthToken.reveal())).status).toBe(401)
    expect((await send(config.smsAccountSid, 'wrong-token')).status).toBe(401)
    expect((await send(config.smsAccountSid, config.smsAuthToken.reveal())).status).toBe(201)
    expect(w.shop.smsOutbox?.list()).toHaveLength(1)
  },
  'POST /store/inbox/:id/open': async (w) => {
    const path = `/store/inbox/${w.adaInboxItem}/open`
    expect(await adaItemUnread(w)).toBe(true)
    const bob = await w.bob.jar.request('POST', path, form())
    // Bob is sent to his own inbox, not to Ada's order, and her item stays unread.
    expect(bob.headers.get('location')).toBe('/store/inbox')
    expect((await w.visitor.request('POST', path, form())).headers.get('location')).toMatch(
      /^\/store\/login/,
    )
    expect(await adaItemUnread(w)).toBe(true)
    const ada = await w.ada.jar.request('POST', path, form())
    expect(ada.headers.get('location')).toBe(`/store/orders/${w.orderId}`)
    expect(await adaItemUnread(w)).toBe(false)
    await w.ada.jar.request('POST', '/inbox/unread', { ids: [w.adaInboxItem] })
  },
  'GET /products/:id': async (w) => {
    const [bob, ada] = await Promise.all([
      w.bob.jar.request('GET', '/products/7'),
      w.ada.jar.request('GET', '/products/7'),
    ])
    expect(bob.json).toEqual(ada.json)
  },
  'GET /store/products/:id': async (w) => {
    expect((await w.bob.jar.request('GET', '/store/products/7')).status).toBe(200)
    expect((await w.visitor.request('GET', '/store/products/7')).status).toBe(200)
  },
  'DELETE /cart/:productId': async (w) => {
    expect((await w.bob.jar.request('DELETE', '/cart/7')).status).toBe(404)
    expect((await w.ada.jar.request('GET', '/cart')).json.items).toEqual([
      { productId: 7, quantity: 1 },
    ])
  },
  'POST /store/cart/:productId/remove': async (w) => {
    expect((await w.bob.jar.request('POST', '/store/cart/7/remove', form())).status).toBe(404)
    expect((await w.ada.jar.request('GET', '/cart')).json.items).toEqual([
      { productId: 7, quantity: 1 },
    ])
  },
}

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `another user's ids on every route with an id, on ${engine.describeTitle}`,
    () => {
      let world: World

      beforeAll(async () => {
        const shop = await startTestShop(engine)
        const [ada, bob] = await Promise.all([
          signUpShopper(shop.base, 'ada'),
          signUpShopper(shop.base, 'bob'),
        ])
        await resolveDatabase<CatalogDb>(shop.app)
          .updateTable('products')
          .set({ stock: 10 })
          .where('id', 'in', [7, 8])
          .execute()
        await ada.jar.request('POST', '/cart', { productId: 8 })
        const order = await ada.jar.request('POST', '/orders', {
          paymentMethodId: ada.paymentMethodId,
        })
        expect(order.status).toBe(201)
        await ada.jar.request('POST', '/cart', { productId: 7 })
        const devices = await ada.jar.request('GET', '/auth/sessions')
        // The confirmation reaches Ada's inbox through a job: wait for it.
        const adaInboxItem = await vi.waitFor(
          async () => {
            const items = (await ada.jar.request('GET', '/inbox')).json.items as { id: string }[]
            const id = items[0]?.id
            if (id === undefined) throw new Error('the confirmation is not in the inbox yet')
            return id
          },
          { timeout: 10_000, interval: 100 },
        )
        const config = shop.app.config
        world = {
          shop,
          ada,
          bob,
          visitor: new CookieJar({ base: shop.base }),
          admin: await logIn(shop.base, config.adminEmail, config.adminPassword.reveal()),
          orderId: order.json.id as string,
          adaDevice: (devices.json.devices as { device: string }[])[0]?.device ?? '',
          adaInboxItem,
        }
      })

      afterAll(async () => {
        await world?.shop.close()
      })

      it('has a case for every route with a parameter, so a new one cannot go untested', () => {
        const routes = routeList(world.shop.server)
        expect(routes).toContainEqual({ method: 'GET', path: '/health' })
        const withIds = routes
          .filter((route) => route.path.includes('/:'))
          .map((route) => `${route.method} ${route.path}`)
        expect(withIds.sort()).toEqual(Object.keys(CASES).sort())
      })

      it('does nothing to Ada’s inbox items when Bob names them in the inbox API', async () => {
        const ids = { ids: [world.adaInboxItem] }
        for (const action of ['/inbox/read', '/inbox/archive']) {
          expect((await world.bob.jar.request('POST', action, ids)).json).toEqual({ changed: 0 })
          expect((await world.visitor.request('POST', action, ids)).status).toBe(401)
        }
        expect(await adaItemUnread(world)).toBe(true)
        expect((await world.bob.jar.request('GET', '/inbox')).json.items).toEqual([])
      })

      for (const [route, run] of Object.entries(CASES)) {
        it(`refuses Bob and visitors on ${route} and lets the owner through`, async () => {
          await run(world)
        })
      }
    },
  )
}
