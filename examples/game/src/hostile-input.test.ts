import { Secret } from '@mortar/core'
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
import { buildGame, type GameServer } from './server.js'

const DEMO_PASSWORD = 'let-me-play'

// Plausible values of every body field the game's routes read; the fuzz replaces one at a time.
const FIELDS = { username: 'fuzzer', password: DEMO_PASSWORD, cell: 4, version: 0 }

/** A logged-in player's browser, injected: keeps the session cookie and the CSRF token. */
class Player {
  readonly #cookies = new TestCookies()
  #csrfToken = ''
  constructor(readonly server: GameServer['server']) {}

  async send(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    const response = await this.server.inject({
      method: method as 'GET',
      url,
      headers: {
        'x-csrf-token': this.#csrfToken,
        cookie: this.#cookies.header,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    this.#cookies.receive(response.headers['set-cookie'])
    this.#csrfToken = /"csrfToken":"([^"]+)"/.exec(response.body)?.[1] ?? this.#csrfToken
    return { status: response.statusCode, body: response.body }
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`game under hostile input on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: PrivateDatabaseUrl
    let game: GameServer

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      game = await buildGame({
        port: 0,
        host: '127.0.0.1',
        databaseUrl: database.url,
        sessionPassword: new Secret('game-test-password-0123456789abcdef'),
        demoPassword: new Secret(DEMO_PASSWORD),
      })
    })

    afterAll(async () => {
      await game?.server.close()
      await database?.drop()
    })

    it(`answers no request of any route with a 5xx on ${engine.title}`, async () => {
      const routes = listRoutes(game.server)
      expect(routes.length).toBeGreaterThan(3)
      const players = new Map<string, Player>()
      for (const [index, route] of routes.entries()) {
        const player = new Player(game.server)
        await player.send('GET', '/game')
        const login = await player.send('POST', '/login', {
          username: `player-${index}`,
          password: DEMO_PASSWORD,
        })
        expect(login.status).toBe(200)
        await player.send('POST', '/game/moves', { cell: 0 })
        players.set(`${route.method} ${route.path}`, player)
      }
      const playerFor = (request: FuzzRequest) =>
        players.get(`${request.route.method} ${request.route.path}`) as Player
      const report = await fuzzRoutes({
        routes,
        fields: FIELDS,
        extraValues: fc.sample(
          fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.bigInt().map(String)),
          8,
        ),
        send: (request) => playerFor(request).send(request.method, request.url, request.body),
      })
      console.info(
        `${engine.title}: ${report.requests} hostile requests over ${routes.length} routes`,
      )
      expect(report.failures).toEqual([])
      expect(report.refusedByDatabase).toEqual([])
    }, 600_000)
  })
}
