import { PasswordHasher, type SuspiciousActivity } from '@mortar/auth'
import { EVENT_BUS } from '@mortar/core'
import { listRoutes, snapshotTables } from '@mortar/core/testing'
import { forgeUnsafeRequests } from '@mortar/session/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RIDES_DB, type Role, SEED_USERS, seedTrips, type Trip } from './rides/index.js'
import { type ListeningRides, listen, type RidesServer } from './server.js'
import { buildTestRides, DEMO_PASSWORD } from './test-rides.js'

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly json: Record<string, unknown>
}

/** A browser over real HTTP: keeps the session cookie and the CSRF token, sends them back. */
class Browser {
  readonly #cookies = new Map<string, string>()
  #csrfToken: string | undefined
  constructor(readonly base: string) {}

  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...extraHeaders }
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
      const [pair = ''] = line.split(';')
      const name = pair.slice(0, pair.indexOf('=')).trim()
      const value = pair.slice(pair.indexOf('=') + 1).trim()
      if (value === '' || /max-age=0/i.test(line)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
    const json = (await response.json()) as Record<string, unknown>
    if (typeof json.csrfToken === 'string') this.#csrfToken = json.csrfToken
    return { status: response.status, headers: response.headers, json }
  }

  /** The `Cookie` header this browser sends. */
  get cookieHeader(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

// What each role may do, written from the product rules and the seed data, not from the
// policy code: the test would catch a policy (or a route) that drifts from them.
const roleOf = new Map<string, Role>(SEED_USERS.map((user) => [user.id, user.role]))

function mayRead(userId: string, trip: Trip): boolean {
  const role = roleOf.get(userId)
  if (role === 'admin') return true
  if (role === 'rider') return trip.rider_id === userId
  if (role === 'driver') return trip.driver_id === userId
  return false
}

function mayCancel(userId: string, trip: Trip): boolean {
  const role = roleOf.get(userId)
  if (role === 'admin') return trip.status === 'requested' || trip.status === 'accepted'
  return role === 'rider' && trip.rider_id === userId && trip.status === 'requested'
}

function mayAccept(userId: string, trip: Trip): boolean {
  return roleOf.get(userId) === 'driver' && trip.status === 'requested' && trip.driver_id === null
}

/** A problem body without what differs per request, to compare two 404s. */
function problemShape(json: Record<string, unknown>): Record<string, unknown> {
  const { requestId: _requestId, instance: _instance, ...rest } = json
  return rest
}

function newestFirst(trips: Iterable<Trip>): string[] {
  return [...trips]
    .sort((a, b) => b.requested_at.localeCompare(a.requested_at) || b.id.localeCompare(a.id))
    .map((trip) => trip.id)
}

describe('the rides example over HTTP', () => {
  let rides: RidesServer
  let server: ListeningRides
  const model = new Map<string, Trip>(seedTrips().map((trip) => [trip.id, { ...trip }]))
  const browsers = new Map<string, Browser>()
  let missing: Record<string, unknown>

  beforeAll(async () => {
    rides = await buildTestRides()
    server = await listen(rides, { port: 0, host: '127.0.0.1' })
    for (const user of SEED_USERS) {
      const browser = new Browser(server.url)
      const login = await browser.request('POST', '/login', {
        email: user.email,
        password: DEMO_PASSWORD,
      })
      expect(login.status, user.email).toBe(200)
      expect(login.json.user).toEqual({
        id: user.id,
        name: user.name,
        email: user.email,
        role: user.role,
      })
      browsers.set(user.id, browser)
    }
    const admin = browsers.get('u-admin') as Browser
    const answer = await admin.request('GET', '/trips/trip-does-not-exist')
    expect(answer.status).toBe(404)
    missing = problemShape(answer.json)
  })

  afterAll(async () => {
    await server?.close()
  })

  async function listAll(browser: Browser): Promise<Trip[]> {
    const trips: Trip[] = []
    let after: string | null = null
    do {
      const query: string = after === null ? '' : `&after=${encodeURIComponent(after)}`
      const page = await browser.request('GET', `/trips?limit=5${query}`)
      expect(page.status).toBe(200)
      const items = page.json.trips as Trip[]
      expect(items.length).toBeLessThanOrEqual(5)
      trips.push(...items)
      after = page.json.nextCursor as string | null
    } while (after !== null)
    return trips
  }

  async function expectListsMatchModel(): Promise<void> {
    for (const user of SEED_USERS) {
      const listed = await listAll(browsers.get(user.id) as Browser)
      const expected = newestFirst([...model.values()].filter((trip) => mayRead(user.id, trip)))
      expect(
        listed.map((trip) => trip.id),
        user.id,
      ).toEqual(expected)
      for (const trip of listed) expect(trip, user.id).toEqual(model.get(trip.id))
    }
  }

  it('lists to each user exactly the trips they may see, newest first, page by page', async () => {
    await expectListsMatchModel()
    // Sanity of the seed: every role sees some trips and nobody but the admin sees them all.
    expect((await listAll(browsers.get('u-ada') as Browser)).length).toBe(8)
    expect((await listAll(browsers.get('u-dee') as Browser)).length).toBeGreaterThan(0)
    expect((await listAll(browsers.get('u-admin') as Browser)).length).toBe(24)
  })

  it('shows a trip by id only to those who may see it; to anyone else it does not exist', async () => {
    for (const trip of model.values()) {
      for (const user of SEED_USERS) {
        const answer = await (browsers.get(user.id) as Browser).request('GET', `/trips/${trip.id}`)
        if (mayRead(user.id, trip)) {
          expect(answer.status, `${user.id} ${trip.id}`).toBe(200)
          expect(answer.json.trip).toEqual(trip)
        } else {
          expect(answer.status, `${user.id} ${trip.id}`).toBe(404)
          expect(problemShape(answer.json)).toEqual(missing)
        }
      }
    }
  })

  it('lets every user try to cancel and accept every trip: only allowed changes happen, refusals leak nothing', async () => {
    const trips = [...model.keys()]
    for (const [index, id] of trips.entries()) {
      // Alternate the order every four trips (one seeded trip in four is requested), so both the
      // cancel-first and the accept-first paths succeed somewhere.
      const actions =
        Math.floor(index / 4) % 2 === 0
          ? (['cancel', 'accept'] as const)
          : (['accept', 'cancel'] as const)
      for (const action of actions) {
        for (const user of SEED_USERS) {
          const before = model.get(id) as Trip
          const allowed =
            action === 'cancel' ? mayCancel(user.id, before) : mayAccept(user.id, before)
          const answer = await (browsers.get(user.id) as Browser).request(
            'POST',
            `/trips/${id}/${action}`,
          )
          const label = `${user.id} ${action} ${id} (${before.status})`
          if (allowed) {
            const after: Trip =
              action === 'cancel'
                ? { ...before, status: 'cancelled' }
                : { ...before, status: 'accepted', driver_id: user.id }
            expect(answer.status, label).toBe(200)
            expect(answer.json.trip, label).toEqual(after)
            model.set(id, after)
          } else if (mayRead(user.id, before)) {
            expect(answer.status, label).toBe(403)
            expect(answer.json.code, label).toBe('E_POLICY_DENIED')
          } else {
            expect(answer.status, label).toBe(404)
            expect(problemShape(answer.json), label).toEqual(missing)
          }
        }
      }
    }
    // The database holds exactly the model: no refused request changed anything.
    const rows = await rides.app
      .resolve(RIDES_DB)
      .selectFrom('trips')
      .selectAll()
      .orderBy('id')
      .execute()
    expect(rows).toEqual([...model.values()].sort((a, b) => a.id.localeCompare(b.id)))
    // Both kinds of change happened, by the right people.
    const seededRequests = seedTrips().filter((trip) => trip.status === 'requested')
    const outcomes = seededRequests.map((trip) => model.get(trip.id))
    // Accepted first by the first driver to try (then cancelled by the admin), or cancelled first.
    expect(outcomes.some((trip) => trip?.driver_id === 'u-dee')).toBe(true)
    expect(outcomes.some((trip) => trip?.status === 'cancelled' && trip.driver_id === null)).toBe(
      true,
    )
    expect(outcomes.every((trip) => trip?.status === 'cancelled')).toBe(true)
    await expectListsMatchModel()
  })

  it('lets a rider request a trip that only they and the admin see, until a driver accepts it', async () => {
    const bob = browsers.get('u-bob') as Browser
    const requested = await bob.request('POST', '/trips', { pickup: 'Harbour', dropoff: 'Airport' })
    expect(requested.status).toBe(201)
    const trip = requested.json.trip as Trip
    expect(trip).toMatchObject({ rider_id: 'u-bob', driver_id: null, status: 'requested' })
    model.set(trip.id, trip)
    await expectListsMatchModel()

    const eli = browsers.get('u-eli') as Browser
    expect((await eli.request('GET', `/trips/${trip.id}`)).status).toBe(404)
    const accepted = await eli.request('POST', `/trips/${trip.id}/accept`)
    expect(accepted.status).toBe(200)
    model.set(trip.id, { ...trip, status: 'accepted', driver_id: 'u-eli' })
    expect((await eli.request('GET', `/trips/${trip.id}`)).json.trip).toEqual(model.get(trip.id))
    expect((await bob.request('POST', `/trips/${trip.id}/cancel`)).status).toBe(403)
    expect((await browsers.get('u-dee')?.request('POST', `/trips/${trip.id}/accept`))?.status).toBe(
      404,
    )
    await expectListsMatchModel()
  })

  it('requests one trip for a request sent twice with the same Idempotency-Key', async () => {
    // Without the key's trip id a retried request called a second car.
    const cy = browsers.get('u-cy') as Browser
    const body = { pickup: 'Museum', dropoff: 'Harbour' }
    const key = { 'idempotency-key': 'retry-key-0001' }
    const answers = await Promise.all([
      cy.request('POST', '/trips', body, key),
      cy.request('POST', '/trips', body, key),
    ])
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 201])
    const [first, second] = answers.map((answer) => answer.json.trip as Trip)
    expect(second).toEqual(first)
    model.set((first as Trip).id, first as Trip)
    // The key is the rider's own: another rider's same key is another trip.
    const bob = await (browsers.get('u-bob') as Browser).request('POST', '/trips', body, key)
    expect(bob.status).toBe(201)
    model.set((bob.json.trip as Trip).id, bob.json.trip as Trip)
    await expectListsMatchModel()
    const bad = await cy.request('POST', '/trips', body, { 'idempotency-key': 'short' })
    expect(bad.status).toBe(422)
  })

  it('refuses a reused Idempotency-Key with another request (422) and keeps the first trip', async () => {
    // It answered the first trip (200), so a rider who reused a key for a new ride believed
    // the car called to the new pickup.
    const cy = browsers.get('u-cy') as Browser
    const key = { 'idempotency-key': 'reused-key-0002' }
    const first = await cy.request('POST', '/trips', { pickup: 'Museum', dropoff: 'Zoo' }, key)
    expect(first.status).toBe(201)
    model.set((first.json.trip as Trip).id, first.json.trip as Trip)
    for (const other of [
      { pickup: 'Museum', dropoff: 'Airport' },
      { pickup: 'Station', dropoff: 'Zoo' },
    ]) {
      const answer = await cy.request('POST', '/trips', other, key)
      expect(answer.status).toBe(422)
      expect(answer.json.code).toBe('E_IDEMPOTENCY_KEY_REUSED')
    }
    // The same request again (spaces trimmed as the first one's) is still the first trip.
    const again = await cy.request('POST', '/trips', { pickup: ' Museum', dropoff: 'Zoo ' }, key)
    expect(again.status).toBe(200)
    expect(again.json.trip).toEqual(first.json.trip)
    await expectListsMatchModel()
  })

  it('refuses trip requests from drivers and admins through the policy', async () => {
    for (const id of ['u-dee', 'u-admin']) {
      const answer = await (browsers.get(id) as Browser).request('POST', '/trips', {
        pickup: 'Stadium',
        dropoff: 'Old Town',
      })
      expect(answer.status, id).toBe(403)
      expect(answer.json.code).toBe('E_POLICY_DENIED')
    }
    await expectListsMatchModel()
  })

  it('answers 401 to an anonymous visitor on every trip route and shows no trip', async () => {
    const anonymous = new Browser(server.url)
    const [first] = model.keys()
    const answers = [
      await anonymous.request('GET', '/trips'),
      await anonymous.request('GET', `/trips/${first}`),
      await anonymous.request('POST', '/trips', { pickup: 'A', dropoff: 'B' }),
      await anonymous.request('POST', `/trips/${first}/cancel`),
      await anonymous.request('POST', `/trips/${first}/accept`),
    ]
    for (const answer of answers) {
      expect(answer.status).toBe(401)
      // `instance` echoes the path the visitor sent; nothing else may name a trip or a user.
      expect(JSON.stringify(problemShape(answer.json))).not.toMatch(/trip-|Harbour|Airport|u-/)
    }
  })

  it('refuses a forged pagination cursor', async () => {
    const ada = browsers.get('u-ada') as Browser
    const answer = await ada.request('GET', '/trips?after=forged-cursor')
    expect(answer.status).toBe(422)
  })

  it('lets exactly one of two drivers racing to accept a request win', async () => {
    const requested = await (browsers.get('u-cy') as Browser).request('POST', '/trips', {
      pickup: 'University',
      dropoff: 'Harbour',
    })
    const trip = requested.json.trip as Trip
    const answers = await Promise.all(
      ['u-dee', 'u-eli'].map((id) =>
        (browsers.get(id) as Browser).request('POST', `/trips/${trip.id}/accept`),
      ),
    )
    const statuses = answers.map((answer) => answer.status).sort()
    // The loser lost either in the update (409) or before, when the trip was no longer theirs to see.
    expect(statuses[0]).toBe(200)
    expect([404, 409]).toContain(statuses[1])
    const row = await rides.app
      .resolve(RIDES_DB)
      .selectFrom('trips')
      .selectAll()
      .where('id', '=', trip.id)
      .executeTakeFirstOrThrow()
    const winner = answers[0]?.status === 200 ? 'u-dee' : 'u-eli'
    expect(row).toMatchObject({ status: 'accepted', driver_id: winner })
    model.set(trip.id, row)
    await expectListsMatchModel()
  })

  it('upgrades an outdated password hash at login', async () => {
    const db = rides.app.resolve(RIDES_DB)
    const weak = await new PasswordHasher({ cost: { logN: 8 } }).hash(DEMO_PASSWORD)
    await db.updateTable('users').set({ password_hash: weak }).where('id', '=', 'u-bob').execute()
    const login = await new Browser(server.url).request('POST', '/login', {
      email: 'bob@rides.example',
      password: DEMO_PASSWORD,
    })
    expect(login.status).toBe(200)
    const { password_hash } = await db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', 'u-bob')
      .executeTakeFirstOrThrow()
    expect(password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/)
  })

  it('forgets the principal at logout: the same browser is anonymous again', async () => {
    const browser = new Browser(server.url)
    await browser.request('POST', '/login', { email: 'ada@rides.example', password: DEMO_PASSWORD })
    expect((await browser.request('GET', '/me')).json.user).toMatchObject({ id: 'u-ada' })
    expect((await browser.request('POST', '/logout')).status).toBe(200)
    expect((await browser.request('GET', '/me')).json.user).toBeNull()
    expect((await browser.request('GET', '/trips')).status).toBe(401)
  })

  it('keeps every answer out of caches: trips, the user, refusals', async () => {
    // No answer said how to cache it: after a logout on a shared computer, Back showed the
    // rider's trips and email from the browser's cache.
    const ada = browsers.get('u-ada') as Browser
    const [trip] = model.keys()
    const answers = [
      await ada.request('GET', '/me'),
      await ada.request('GET', '/trips'),
      await ada.request('GET', `/trips/${trip}`),
      await ada.request('GET', '/trips/no-such-trip'),
      await new Browser(server.url).request('GET', '/trips'),
    ]
    for (const answer of answers) expect(answer.headers.get('cache-control')).toBe('no-store')
  })

  it('refuses a body over 1 MiB with a 413 problem before parsing it', async () => {
    const browser = new Browser(server.url)
    await browser.request('POST', '/login', { email: 'ada@rides.example', password: DEMO_PASSWORD })
    const pickup = 'x'.repeat(1024 * 1024)
    const response = await fetch(`${server.url}/trips`, {
      method: 'POST',
      headers: {
        cookie: browser.cookieHeader,
        origin: server.url,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ pickup, dropoff: 'Elsewhere' }),
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ code: 'E_PAYLOAD_TOO_LARGE' })
  })

  it('revokes the session at logout: a copy of the old cookie no longer works', async () => {
    const browser = new Browser(server.url)
    await browser.request('POST', '/login', { email: 'bob@rides.example', password: DEMO_PASSWORD })
    const copied = browser.cookieHeader
    expect((await fetch(`${server.url}/trips`, { headers: { cookie: copied } })).status).toBe(200)
    expect((await browser.request('POST', '/logout')).status).toBe(200)
    const replayed = await fetch(`${server.url}/me`, { headers: { cookie: copied } })
    expect(((await replayed.json()) as { user: unknown }).user).toBeNull()
    expect((await fetch(`${server.url}/trips`, { headers: { cookie: copied } })).status).toBe(401)
  })

  it('refuses forged cross-site requests on every unsafe route, whatever their content type, changing nothing', async () => {
    const browser = new Browser(server.url)
    await browser.request('POST', '/login', { email: 'cy@rides.example', password: DEMO_PASSWORD })
    const mine = (await browser.request('GET', '/trips?limit=50')).json.trips as Trip[]
    const open = mine.find((trip) => trip.status === 'requested')
    const before = await snapshotTables(rides.app)
    const answers = await forgeUnsafeRequests({
      url: server.url,
      cookie: browser.cookieHeader,
      routes: listRoutes(rides.hono),
      params: { id: open?.id ?? 'trip-001' },
      body: '{"pickup":"Forged St","dropoff":"Elsewhere"}',
    })
    expect(answers.map((answer) => `${answer.method} ${answer.path}`)).toEqual(
      expect.arrayContaining([
        'POST /trips',
        `POST /trips/${open?.id ?? 'trip-001'}/cancel`,
        'POST /logout',
        'POST /login',
      ]),
    )
    expect(answers.filter((answer) => !answer.refused)).toEqual([])
    expect(await snapshotTables(rides.app)).toEqual(before)
    expect((await browser.request('GET', '/me')).json.user).toMatchObject({ id: 'u-cy' })
  })

  it('throttles logins: five failures lock the account with a 429 and Retry-After, and alert once', async () => {
    const alerts: SuspiciousActivity[] = []
    rides.app.resolve(EVENT_BUS).subscribe('security.suspicious_activity', (event) => {
      alerts.push(event)
    })
    const attacker = new Browser(server.url)
    const wrong = await attacker.request('POST', '/login', {
      email: 'cy@rides.example',
      password: 'nope-nope',
    })
    const unknown = await attacker.request('POST', '/login', {
      email: 'zz@rides.example',
      password: 'nope-nope',
    })
    expect(wrong.status).toBe(401)
    expect(problemShape(unknown.json)).toEqual(problemShape(wrong.json))
    for (let i = 0; i < 4; i++) {
      await attacker.request('POST', '/login', {
        email: 'cy@rides.example',
        password: `guess-${i}`,
      })
    }
    const locked = await attacker.request('POST', '/login', {
      email: 'cy@rides.example',
      password: DEMO_PASSWORD,
    })
    expect(locked.status).toBe(429)
    expect(locked.json.code).toBe('E_LOGIN_THROTTLED')
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(alerts).toMatchObject([
      { kind: 'login_lockout', scope: 'account', account: 'cy@rides.example' },
    ])
    // Another account from the same address still logs in.
    const other = new Browser(server.url)
    const login = await other.request('POST', '/login', {
      email: 'bob@rides.example',
      password: DEMO_PASSWORD,
    })
    expect(login.status).toBe(200)
  })
})

describe('the rides login under a burst of parallel guesses', () => {
  let rides: RidesServer
  let server: ListeningRides

  beforeAll(async () => {
    rides = await buildTestRides()
    server = await listen(rides, { port: 0, host: '127.0.0.1' })
  })

  afterAll(async () => {
    await server?.close()
  })

  it('checks at most five of 200 parallel wrong passwords, alerts once, and then refuses the right one', async () => {
    const alerts: SuspiciousActivity[] = []
    rides.app.resolve(EVENT_BUS).subscribe('security.suspicious_activity', (event) => {
      alerts.push(event)
    })
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        new Browser(server.url).request('POST', '/login', {
          email: 'cy@rides.example',
          password: `guess-${i}`,
        }),
      ),
    )
    const statuses = replies.map((reply) => reply.status)
    // Each attempt is counted before its hash: five wrong passwords are checked, no more.
    expect(statuses.filter((status) => status === 401)).toHaveLength(5)
    expect(statuses.filter((status) => status === 429)).toHaveLength(195)
    expect(alerts.filter((alert) => alert.scope === 'account')).toHaveLength(1)
    const right = await new Browser(server.url).request('POST', '/login', {
      email: 'cy@rides.example',
      password: DEMO_PASSWORD,
    })
    expect(right.status).toBe(429)
  })
})
