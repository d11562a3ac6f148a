import { listRoutes, snapshotTables } from '@mortar/core/testing'
import { forgeUnsafeRequests } from '@mortar/session/testing'
import { ANALYTICS } from '@mortar/analytics'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { problemCodeInPage } from './storefront/error-pages.js'
import { CookieJar } from './testing/cookie-jar.js'
import { sqliteTestEngine, startTestShop, type TestShop } from './testing/test-shop.js'

// The guard runs before any route and the same on every engine: SQLite is enough here.
describe('forged cross-site requests to the shop', () => {
  let shop: TestShop

  beforeAll(async () => {
    // No workers and no alert checks: nothing runs in the background (deliveries, rollups,
    // schedules, an alert about a slow event loop) to change a table while the forgeries are sent.
    vi.stubEnv('MORTAR_WORKERS', 'false')
    try {
      shop = await startTestShop(sqliteTestEngine(), { env: { ALERT_CHECK_SECONDS: '3600' } })
    } finally {
      vi.unstubAllEnvs()
    }
  })

  afterAll(async () => {
    await shop?.close()
  })

  it('are refused on every unsafe route, whatever their content type, and change nothing', async () => {
    // A logged-in shopper with a card, a cart and two devices: what a forgery would go after.
    const shopper = new CookieJar({ base: shop.base, userAgent: 'laptop' })
    const email = `forged-${Date.now()}@example.com`
    await shopper.request('POST', '/auth/signup', { email, password: 'correct horse battery' })
    const phone = new CookieJar({ base: shop.base, userAgent: 'phone' })
    await phone.request('POST', '/auth/login', { email, password: 'correct horse battery' })
    const card = await shopper.request('POST', '/payment-methods', {
      token: 'tok_visa_4242_forged',
      last4: '4242',
      brand: 'visa',
    })
    expect(card.status).toBe(201)
    expect((await shopper.request('POST', '/cart', { productId: 42 })).status).toBe(201)
    const devices = (await shopper.request('GET', '/auth/sessions')).json.devices as {
      device: string
      current: boolean
    }[]
    const phoneDevice = devices.find((device) => !device.current)?.device ?? ''

    const routes = listRoutes(shop.server)
    // What the setup tracked is written now, not during the forgeries.
    await shop.app.resolve(ANALYTICS).flush({ timeoutMs: 5_000 })
    const before = await snapshotTables(shop.app)
    const answers = await forgeUnsafeRequests({
      url: shop.base,
      cookie: shopper.cookieHeader,
      routes,
      params: { id: card.json.id as string, device: phoneDevice, productId: '42' },
      // A form post to a page is refused with an HTML page, which names the code.
      codeInPage: problemCodeInPage,
    })

    // The routes came from the server: these are among them, and any added later will be too.
    expect(answers.map((answer) => `${answer.method} ${answer.path}`)).toEqual(
      expect.arrayContaining([
        `DELETE /payment-methods/${card.json.id}`,
        `DELETE /auth/sessions/${phoneDevice}`,
        'POST /auth/logout-everywhere',
        'DELETE /cart/42',
        'POST /auth/login',
      ]),
    )
    expect(answers.filter((answer) => !answer.refused)).toEqual([])
    expect(await snapshotTables(shop.app)).toEqual(before)
    // The shopper and the phone are still logged in, the card and the cart still there.
    expect((await shopper.request('GET', '/payment-methods')).json.items).toHaveLength(1)
    expect((await shopper.request('GET', '/cart')).json.items).toEqual([
      { productId: 42, quantity: 1 },
    ])
    expect((await phone.request('GET', '/me')).status).toBe(200)
  })
})
