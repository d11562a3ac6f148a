import { Secret } from '@mortar/core'
import { listRoutes, snapshotTables } from '@mortar/core/testing'
import { STATE_STORE } from '@mortar/session'
import { forgeUnsafeRequests } from '@mortar/session/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GameConfig } from './config.js'
import { gameSchema } from './game/tic-tac-toe.js'
import { buildGame, type GameServer } from './server.js'

const DEMO_PASSWORD = 'let-me-play'

/** A browser's cookie jar over real HTTP: keeps what Set-Cookie sends, sends it back. */
class CookieJar {
  readonly #cookies = new Map<string, string>()
  #csrfToken: string | undefined
  constructor(readonly base: string) {}

  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {}
    const cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    if (cookie !== '') headers.cookie = cookie
    if (this.#csrfToken !== undefined) headers['x-csrf-token'] = this.#csrfToken
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';')
      const [name = '', value = ''] = pair.split('=', 2).map((part) => part.trim())
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, pair.slice(pair.indexOf('=') + 1).trim())
    }
    const json = (await response.json()) as Record<string, unknown>
    if (typeof json.csrfToken === 'string') this.#csrfToken = json.csrfToken
    return { status: response.status, json }
  }

  /** The raw cookie header this jar would send. */
  get cookieHeader(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

describe('the game over HTTP', () => {
  let game: GameServer
  let base: string

  beforeAll(async () => {
    const config: GameConfig = {
      port: 0,
      host: '127.0.0.1',
      databaseUrl: 'sqlite::memory:',
      sessionPassword: new Secret('game-test-password-0123456789abcdef'),
      demoPassword: new Secret(DEMO_PASSWORD),
    }
    game = await buildGame(config)
    base = await game.server.listen({ port: 0, host: '127.0.0.1' })
  })

  afterAll(async () => {
    await game?.server.close()
  })

  it("saves an anonymous visitor's game in their session and resumes it on return", async () => {
    const visitor = new CookieJar(base)
    const fresh = await visitor.request('GET', '/game')
    expect(fresh.json).toMatchObject({
      game: { board: '.........', moves: 0 },
      version: null,
      user: null,
    })
    expect(visitor.cookieHeader).toMatch(/^game\.session=/)

    const moved = await visitor.request('POST', '/game/moves', { cell: 0 })
    expect(moved.status).toBe(200)
    expect(moved.json.game).toEqual({ board: 'x...o....', status: 'playing', moves: 2 })

    const back = await visitor.request('GET', '/game')
    expect(back.json.game).toEqual(moved.json.game)
    // Another visitor starts from scratch.
    expect((await new CookieJar(base).request('GET', '/game')).json.game).toMatchObject({
      moves: 0,
    })
  })

  it('moves the progress to the account at login and resumes it from another device', async () => {
    const laptop = new CookieJar(base)
    await laptop.request('GET', '/game')
    await laptop.request('POST', '/game/moves', { cell: 0 })
    const played = await laptop.request('POST', '/game/moves', { cell: 2 })
    expect(played.json.game).toMatchObject({ board: 'xox.o....', moves: 4 })

    const login = await laptop.request('POST', '/login', {
      username: 'ada',
      password: DEMO_PASSWORD,
    })
    expect(login.status).toBe(200)
    expect(login.json).toMatchObject({ user: 'ada', version: 1, game: played.json.game })

    // The game now lives in the state store, not in the cookie.
    const stored = await game.app
      .resolve(STATE_STORE)
      .namespace('games', gameSchema)
      .get('ada', 'current')
    expect(stored?.value).toEqual(played.json.game)

    const phone = new CookieJar(base)
    expect((await phone.request('GET', '/game')).json.game).toMatchObject({ moves: 0 })
    const phoneLogin = await phone.request('POST', '/login', {
      username: 'ada',
      password: DEMO_PASSWORD,
    })
    expect(phoneLogin.json).toMatchObject({ user: 'ada', game: played.json.game, version: 1 })

    const fromPhone = await phone.request('POST', '/game/moves', { cell: 7, version: 1 })
    expect(fromPhone.status).toBe(200)
    expect(fromPhone.json).toMatchObject({ version: 2 })
    expect((await laptop.request('GET', '/game')).json).toMatchObject({
      game: fromPhone.json.game,
      version: 2,
    })
  })

  it('refuses a move made on a stale board with a 409 problem, keeping the other device’s move', async () => {
    const first = new CookieJar(base)
    const second = new CookieJar(base)
    await first.request('GET', '/game')
    await second.request('GET', '/game')
    const login = await first.request('POST', '/login', {
      username: 'grace',
      password: DEMO_PASSWORD,
    })
    await second.request('POST', '/login', { username: 'grace', password: DEMO_PASSWORD })
    const version = login.json.version as number

    const winner = await first.request('POST', '/game/moves', { cell: 4, version })
    expect(winner.status).toBe(200)
    const stale = await second.request('POST', '/game/moves', { cell: 0, version })
    expect(stale.status).toBe(409)
    expect(stale.json).toMatchObject({ code: 'E_STATE_CONFLICT' })
    expect((await second.request('GET', '/game')).json.game).toEqual(winner.json.game)
  })

  it('starts a new game, and after logout the old cookie is refused by the registry', async () => {
    const laptop = new CookieJar(base)
    await laptop.request('GET', '/game')
    const login = await laptop.request('POST', '/login', {
      username: 'linus',
      password: DEMO_PASSWORD,
    })
    const moved = await laptop.request('POST', '/game/moves', {
      cell: 8,
      version: login.json.version,
    })
    const fresh = await laptop.request('POST', '/game/new', { version: moved.json.version })
    expect(fresh.json).toMatchObject({ game: { board: '.........', moves: 0 }, version: 2 })

    const loggedInCookie = laptop.cookieHeader
    const logout = await laptop.request('POST', '/logout')
    expect(logout.json).toMatchObject({ user: null, version: null })
    const replayed = await fetch(`${base}/game`, { headers: { cookie: loggedInCookie } })
    expect(((await replayed.json()) as { user: unknown }).user).toBeNull()
  })

  it('refuses a wrong password and an illegal move with problems', async () => {
    const visitor = new CookieJar(base)
    await visitor.request('GET', '/game')
    const login = await visitor.request('POST', '/login', { username: 'ada', password: 'nope' })
    expect(login.status).toBe(401)
    await visitor.request('POST', '/game/moves', { cell: 0 })
    const taken = await visitor.request('POST', '/game/moves', { cell: 0 })
    expect(taken.status).toBe(422)
    expect(taken.json).toMatchObject({ code: 'E_GAME_ILLEGAL_MOVE' })
  })

  it('refuses forged cross-site requests on every unsafe route, whatever their content type, changing nothing', async () => {
    const player = new CookieJar(base)
    await player.request('GET', '/game')
    const login = await player.request('POST', '/login', {
      username: 'forged',
      password: DEMO_PASSWORD,
    })
    await player.request('POST', '/game/moves', { cell: 4, version: login.json.version })
    const board = (await player.request('GET', '/game')).json

    const before = await snapshotTables(game.app)
    const answers = await forgeUnsafeRequests({
      url: base,
      cookie: player.cookieHeader,
      routes: listRoutes(game.server),
      body: '{"cell":0,"version":2}',
    })
    expect(answers.map((answer) => `${answer.method} ${answer.path}`)).toEqual(
      expect.arrayContaining(['POST /game/moves', 'POST /game/new', 'POST /login', 'POST /logout']),
    )
    expect(answers.filter((answer) => !answer.refused)).toEqual([])
    expect(await snapshotTables(game.app)).toEqual(before)
    expect((await player.request('GET', '/game')).json).toEqual(board)
  })

  it('keeps every answer out of caches: the game, a refusal', async () => {
    // No answer said how to cache it: Back after a logout showed the player's board.
    const visitor = new CookieJar(base)
    await visitor.request('GET', '/game')
    const answers = [
      await fetch(`${base}/game`),
      await fetch(`${base}/game`, { headers: { cookie: visitor.cookieHeader } }),
      await fetch(`${base}/game/moves`, {
        method: 'POST',
        headers: { cookie: visitor.cookieHeader, 'content-type': 'application/json' },
        body: '{}',
      }),
    ]
    for (const answer of answers) expect(answer.headers.get('cache-control')).toBe('no-store')
  })

  it('refuses a POST without the CSRF token from a cookie-carrying visitor', async () => {
    const visitor = new CookieJar(base)
    await visitor.request('GET', '/game')
    const response = await fetch(`${base}/game/moves`, {
      method: 'POST',
      headers: { cookie: visitor.cookieHeader, 'content-type': 'application/json' },
      body: JSON.stringify({ cell: 0 }),
    })
    expect(response.status).toBe(403)
  })
})

describe('the game in production', () => {
  it('starts on a fresh database: it migrates itself before start(), so nothing is pending', async () => {
    const environment = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      const { app, server } = await buildGame({
        port: 0,
        host: '127.0.0.1',
        databaseUrl: 'sqlite::memory:',
        sessionPassword: new Secret('game-test-password-0123456789abcdef'),
        demoPassword: new Secret(DEMO_PASSWORD),
      })
      expect(app.state).toBe('started')
      expect((await app.migrationStatus()).every((entry) => entry.appliedAt !== undefined)).toBe(
        true,
      )
      await server.close()
    } finally {
      if (environment === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = environment
    }
  })
})
