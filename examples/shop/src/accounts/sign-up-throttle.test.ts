import { describe, expect, it } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'

// A shop of its own: the last sign-up locks this address out of signing up and logging in.
for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it).
  describe.skipIf(engine.skip !== undefined)(`shop sign-ups on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })

    it('counts every sign-up against the address, new emails too, and refuses the 51st in 15 minutes', async () => {
      // A successful sign-up gave its attempt back to the throttle, so an address could create
      // accounts without end, each a full password hash and a row.
      const statuses: number[] = []
      for (let n = 1; n <= 51; n += 1) {
        const visitor = new CookieJar({ base: shop().base, userAgent: `bot-${n}` })
        const signUp = await visitor.request('POST', '/auth/signup', {
          email: `new-${n}-${Date.now()}@example.com`,
          password: 'correct horse battery',
        })
        statuses.push(signUp.status)
        if (n === 51) expect(Number(signUp.headers.get('retry-after'))).toBeGreaterThan(0)
      }
      expect(statuses).toEqual([...Array(50).fill(201), 429])
    })
  })
}
