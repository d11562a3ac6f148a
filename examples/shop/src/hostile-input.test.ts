import { type FuzzRequest, fuzzRoutes, listRoutes, TestCookies } from '@mortar/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { shopTestEngines, useTestShop, type TestShop } from './testing/test-shop.js'

const PASSWORD = 'correct horse battery'

// Plausible values of every body field the shop's routes read; the fuzz replaces one at a time.
const FIELDS = {
  email: 'fuzz@example.com',
  password: PASSWORD,
  productId: 1,
  quantity: 1,
  token: 'tok_visa_4242',
  last4: '4242',
  brand: 'visa',
  keepCurrent: true,
}

/**
 * A visitor per route, logged in to an account of its own, from an address of its own (the
 * sign-up route's fuzz meets its taken email often enough to lock its address out, as it
 * should, and the other visitors must still sign up); requests are injected, not sent.
 */
class Visitor {
  readonly #cookies = new TestCookies()
  constructor(
    readonly server: TestShop['server'],
    readonly address: string,
  ) {}

  async send(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    const response = await this.server.inject({
      method: method as 'GET',
      url,
      remoteAddress: this.address,
      // Same-origin, as a browser's write: the CSRF guard lets it through to the handler.
      headers: {
        host: 'shop.test',
        origin: 'http://shop.test',
        cookie: this.#cookies.header,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    this.#cookies.receive(response.headers['set-cookie'])
    return { status: response.statusCode, body: response.body }
  }
}

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `shop under hostile input on ${engine.describeTitle}`,
    () => {
      const shop = useTestShop({ engine })

      it(`answers no request of any route with a 5xx on ${engine.title}`, async () => {
        const routes = listRoutes(shop().server)
        expect(routes.length).toBeGreaterThan(10)
        const visitors = new Map<string, Visitor>()
        let accounts = 0
        const visitorFor = async (request: FuzzRequest): Promise<Visitor> => {
          const key = `${request.route.method} ${request.route.path}`
          let visitor = visitors.get(key)
          if (visitor === undefined) {
            accounts += 1
            visitor = new Visitor(shop().server, `10.0.${accounts >> 8}.${accounts & 255}`)
            const signup = await visitor.send('POST', '/auth/signup', {
              email: `fuzz-${accounts}@example.com`,
              password: PASSWORD,
            })
            expect(signup.status).toBe(201)
            // Something in the cart, a saved card: routes that read them reach their queries.
            await visitor.send('POST', '/cart', { productId: 1, quantity: 1 })
            await visitor.send('POST', '/payment-methods', {
              token: 'tok_visa_4242',
              last4: '4242',
              brand: 'visa',
            })
            visitors.set(key, visitor)
          }
          return visitor
        }
        const report = await fuzzRoutes({
          routes,
          fields: FIELDS,
          extraValues: fc.sample(
            fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.bigInt().map(String)),
            20,
          ),
          send: async (request) =>
            (await visitorFor(request)).send(request.method, request.url, request.body),
        })
        console.info(
          `${engine.title}: ${report.requests} hostile requests over ${routes.length} routes`,
        )
        expect(report.requests).toBeGreaterThan(1000)
        expect(report.failures).toEqual([])
        // The routes' own schemas refuse hostile values before any query.
        expect(report.refusedByDatabase).toEqual([])
      }, 600_000)
    },
  )
}
