import {
  type FuzzRequest,
  fuzzRoutes,
  listRoutes,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  TestCookies,
  testEngines,
} from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SEED_USERS } from './rides/index.js'
import type { RidesServer } from './server.js'
import { buildTestRides, DEMO_PASSWORD } from './test-rides.js'

// Plausible values of every body field the rides routes read; the fuzz replaces one at a time.
const FIELDS = { email: 'admin@rides.example', password: DEMO_PASSWORD, pickup: 'A', dropoff: 'B' }

/** A logged-in user's browser, in process: keeps the session cookie and the CSRF token. */
class Visitor {
  readonly #cookies = new TestCookies()
  #csrfToken = ''
  constructor(readonly rides: RidesServer) {}

  async send(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    const response = await this.rides.hono.request(`http://rides.test${url}`, {
      method,
      headers: {
        'x-csrf-token': this.#csrfToken,
        cookie: this.#cookies.header,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    this.#cookies.receive(response.headers.getSetCookie())
    const text = await response.text()
    this.#csrfToken = /"csrfToken":"([^"]+)"/.exec(text)?.[1] ?? this.#csrfToken
    return { status: response.status, body: text }
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`rides under hostile input on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: PrivateDatabaseUrl
    let rides: RidesServer

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      rides = await buildTestRides(database.url)
    })

    afterAll(async () => {
      await rides?.app.stop()
      await database?.drop()
    })

    it(`answers no request of any route with a 5xx on ${engine.title}`, async () => {
      const routes = listRoutes(rides.hono)
      expect(routes.length).toBeGreaterThan(5)
      // Every route gets its own logged-in visitor, made before the login route is fuzzed (and
      // its throttle counts failures): an admin reaches every trip, a driver can accept.
      const visitors = new Map<string, Visitor>()
      for (const [index, route] of routes.entries()) {
        const user = SEED_USERS[index % SEED_USERS.length] ?? SEED_USERS[0]
        const visitor = new Visitor(rides)
        const login = await visitor.send('POST', '/login', {
          email: user?.email,
          password: DEMO_PASSWORD,
        })
        expect(login.status).toBe(200)
        visitors.set(`${route.method} ${route.path}`, visitor)
      }
      const visitorFor = (request: FuzzRequest) =>
        visitors.get(`${request.route.method} ${request.route.path}`) as Visitor
      const report = await fuzzRoutes({
        routes,
        fields: FIELDS,
        extraValues: fc.sample(
          fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.bigInt().map(String)),
          8,
        ),
        send: (request) => visitorFor(request).send(request.method, request.url, request.body),
      })
      console.info(
        `${engine.title}: ${report.requests} hostile requests over ${routes.length} routes`,
      )
      expect(report.failures).toEqual([])
      // The routes' own schemas refuse hostile values before any query.
      expect(report.refusedByDatabase).toEqual([])
    }, 600_000)
  })
}
