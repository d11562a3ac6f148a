import { ANALYTICS } from '@mortar/analytics'
import { resolveDatabase } from '@mortar/core'
import { INBOX } from '@mortar/notify'
import { beforeAll, describe, expect, it } from 'vitest'
import type { AccountsDb } from '../accounts/index.js'
import type { CatalogDb } from '../catalog/index.js'
import type { OrdersDb } from '../orders/index.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { routeList } from '../testing/route-list.js'
import { logIn, type Shopper, signUpShopper } from '../testing/shopper.js'
import { useTestShop } from '../testing/test-shop.js'

// Ends an element, a quoted attribute of either quote and a script, then opens a tag: rendered
// unescaped anywhere, one of the markers below is in the page as it is.
const PAYLOAD = `xss"'></textarea></title></script><i data-xss>`
const UNESCAPED = ['xss"', '<i data-xss', '</script><i']

/** The markers a browser would read as markup in `answer`: JSON and text are never markup. */
function unescapedIn(answer: { headers: Headers; text: string }): string[] {
  const type = answer.headers.get('content-type') ?? ''
  if (!/html|xml|svg/.test(type)) return []
  return UNESCAPED.filter((marker) => answer.text.includes(marker))
}

describe('every value a user or the database controls, on every page, is escaped', () => {
  const shop = useTestShop()
  let customer: Shopper
  let admin: CookieJar
  let orderId = ''
  let mailId = ''
  const inboxId = 'xss-item'

  beforeAll(async () => {
    const db = resolveDatabase<CatalogDb & OrdersDb & AccountsDb>(shop().app)
    // A product's name and description (an import, an admin tool: whatever wrote them).
    await db
      .updateTable('products')
      .set({ name: `Mug ${PAYLOAD}`, description: `Holds tea ${PAYLOAD}`, stock: 10 })
      .where('id', '=', 1)
      .execute()
    customer = await signUpShopper(shop().base, 'planted')
    expect((await customer.jar.request('POST', '/cart', { productId: 1 })).status).toBe(201)
    const placed = await customer.jar.request('POST', '/orders', {
      paymentMethodId: customer.paymentMethodId,
    })
    expect(placed.status).toBe(201)
    orderId = placed.json.id as string
    // The order's confirmation mail, with the product's name, in the development mailbox.
    mailId = (await shop().mailbox.waitFor((mail) => mail.to === customer.email)).id
    // A text message the development SMS stand-in took, shown to the admins.
    shop().smsOutbox?.take({ to: PAYLOAD, from: PAYLOAD, body: PAYLOAD, idempotencyKey: undefined })
    // A tracking code and a buyer's email, as stored, and an inbox item's every text.
    await db
      .updateTable('orders')
      .set({ tracking_code: PAYLOAD })
      .where('id', '=', orderId)
      .execute()
    await db
      .updateTable('users')
      .set({ email: `${PAYLOAD}@example.com` })
      .where('id', '=', customer.userId)
      .execute()
    await shop()
      .app.resolve(INBOX)
      .add({
        id: inboxId,
        recipientId: customer.userId,
        type: 'note',
        message: {
          title: PAYLOAD,
          body: PAYLOAD,
          url: `/store/orders?note=${encodeURIComponent(PAYLOAD)}`,
        },
      })
    // A search, shown to the admins among the top searches.
    await customer.jar.request('GET', `/store?q=${encodeURIComponent(PAYLOAD)}`, undefined, {
      'sec-fetch-mode': 'navigate',
    })
    await shop().app.resolve(ANALYTICS).flush({ timeoutMs: 5_000 })
    const config = shop().app.config
    admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
  })

  /** Every GET route, its parameters the planted order, product and inbox item, or the payload. */
  function paths(): string[] {
    const query = ['q', 'next', 'after', 'id', 'days', 'item', 'status', 'format', 'note']
      .map((name) => `${name}=${encodeURIComponent(PAYLOAD)}`)
      .join('&')
    const routes = routeList(shop().server).filter(
      (route) => route.method === 'GET' && route.path !== '/inbox/stream',
    )
    const real = routes.map((route) =>
      route.path
        .replace(/:id\b/, route.path.includes('product') ? '1' : orderId)
        .replace(/:\w+/g, '1')
        .replace(/\*$/, ''),
    )
    const hostile = routes.map((route) =>
      route.path.replace(/:\w+/g, encodeURIComponent(PAYLOAD)).replace(/\*$/, ''),
    )
    return [
      ...real,
      ...real.map((path) => `${path}?${query}`),
      ...hostile,
      `/${PAYLOAD}`,
      `/admin/mailbox?id=${encodeURIComponent(mailId)}`,
    ]
  }

  it('renders no planted value as markup, for a visitor, the customer or an admin', async () => {
    const all = paths()
    expect(all.length).toBeGreaterThan(60)
    const visitor = new CookieJar({ base: shop().base })
    const shown = new Set<string>()
    for (const jar of [visitor, customer.jar, admin]) {
      for (const path of all) {
        const answer = await jar.request('GET', path)
        expect([path, answer.status < 500]).toEqual([path, true])
        expect([path, unescapedIn(answer)]).toEqual([path, []])
        if (answer.text.includes('xss&quot;')) shown.add(path)
      }
    }
    // The planted values did reach the pages that show them (escaped), so the check saw them.
    const showing = [
      '/store/products/1',
      `/store/orders/${orderId}`,
      '/store/inbox',
      `/admin/orders/${orderId}`,
      '/admin/orders',
      '/admin/sms',
      '/admin/analytics',
      `/admin/mailbox?id=${encodeURIComponent(mailId)}`,
    ]
    expect(showing.filter((path) => !shown.has(path))).toEqual([])
  })

  it('renders no value sent in a form or a path as markup, on the page that refuses it', async () => {
    const form = (fields: Record<string, string>) => new URLSearchParams(fields)
    const visitor = new CookieJar({ base: shop().base })
    const sent: [CookieJar, string, URLSearchParams][] = [
      [visitor, '/store/login', form({ email: PAYLOAD, password: PAYLOAD, next: PAYLOAD })],
      [visitor, '/store/signup', form({ email: PAYLOAD, password: PAYLOAD, next: PAYLOAD })],
      [visitor, '/store/cart', form({ productId: PAYLOAD, quantity: PAYLOAD })],
      [customer.jar, '/store/account/phone', form({ phone: PAYLOAD })],
      [customer.jar, '/store/account/payment-methods', form({ token: PAYLOAD, last4: PAYLOAD })],
      [customer.jar, '/store/checkout', form({ paymentMethodId: PAYLOAD, quote: PAYLOAD })],
      [customer.jar, `/store/inbox/${encodeURIComponent(PAYLOAD)}/open`, form({})],
      [admin, `/admin/orders/${orderId}/status`, form({ status: PAYLOAD, trackingCode: PAYLOAD })],
    ]
    for (const [jar, path, fields] of sent) {
      const answer = await jar.request('POST', path, fields)
      expect([path, answer.status < 500]).toEqual([path, true])
      expect([path, unescapedIn(answer)]).toEqual([path, []])
      const location = answer.headers.get('location')
      if (location !== null) {
        const next = await jar.request('GET', location)
        expect([location, unescapedIn(next)]).toEqual([location, []])
      }
    }
  })
})
