import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { routeList } from '../testing/route-list.js'
import { logIn } from '../testing/shopper.js'
import { shopTestEngines, startTestShop, type TestShop } from '../testing/test-shop.js'

const sqlite = shopTestEngines()[0]

describe('framing by another site (clickjacking)', () => {
  let shop: TestShop
  let admin: CookieJar

  beforeAll(async () => {
    if (sqlite === undefined) throw new Error('no SQLite engine')
    shop = await startTestShop(sqlite)
    const config = shop.app.config
    admin = await logIn(shop.base, config.adminEmail, config.adminPassword.reveal())
  })

  afterAll(async () => {
    await shop?.close()
  })

  it('is refused by every answer of every GET route, pages, errors and mounted handlers alike', async () => {
    // The inbox's live stream never ends, so its body cannot be read to the end; it is no page.
    const routes = routeList(shop.server).filter(
      (route) => route.method === 'GET' && route.path !== '/inbox/stream',
    )
    expect(routes.length).toBeGreaterThan(20)
    const paths = [
      ...routes.map((route) => route.path.replace(/:\w+/g, '1').replace(/\*$/, '')),
      '/no-such-page',
      '/store/products/not-a-number',
    ]
    for (const path of paths) {
      const answer = await admin.request('GET', path)
      const policy = answer.headers.get('content-security-policy') ?? ''
      expect([path, policy]).toEqual([path, expect.stringMatching(/frame-ancestors '(self|none)'/)])
      expect([path, answer.headers.get('x-frame-options')]).toEqual([
        path,
        expect.stringMatching(/^(SAMEORIGIN|DENY)$/),
      ])
    }
  })
})
