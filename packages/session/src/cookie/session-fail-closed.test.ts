import { requestContext, UnauthorizedError } from '@mortar/core'
import { createTestApp, type TestApp } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { verifyCsrfForm } from '../csrf/verify-csrf-form.js'
import { CsrfError, SessionConfigError, SessionUnavailableError } from '../errors.js'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { FakeBrowser } from './fake-browser.js'
import { session } from './session.js'
import type { SessionModuleOptions } from './session-config.js'
import { sessionModule } from './session-module.js'

declare module '@mortar/core' {
  interface Principal {
    id?: string
  }
}

const KEY = 'fail-closed-0123456789abcdef0123456789'
const COOKIE = 'fc.session'
const schema = z.object({ n: z.number().default(0), note: z.string().optional() })
type Current = ReturnType<typeof session> & { data: z.output<typeof schema> }
const current = () => session() as unknown as Current

const apps: TestApp[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()))
})

async function start(options: Partial<SessionModuleOptions<typeof schema>> = {}) {
  const registry = new MemorySessionRegistry()
  const app = createTestApp({
    modules: [
      sessionModule({
        cookieName: COOKIE,
        password: KEY,
        schema,
        registry,
        resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
        ...options,
      }),
    ],
  })
  apps.push(app)
  await app.start()
  const browser = new FakeBrowser(app)
  const login = await browser.request({ method: 'POST' }, async () => {
    await current().login('user-1')
    return current().id
  })
  return { app, browser, registry, sessionId: login.body ?? '' }
}

// What a forged form can send: every encoding a <form> has, none, and odd ones.
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/plain',
  'text/plain; charset=utf-8',
  'TEXT/PLAIN',
  'application/json',
  'application/octet-stream',
  'application/x-www-form-urlencoded, application/json',
  '',
  undefined,
]

// Every way a handler could learn who the request is for.
const READS: Record<string, () => unknown> = {
  principal: () => requestContext().get('principal'),
  userId: () => current().userId,
  id: () => current().id,
  createdAt: () => current().createdAt,
  data: () => current().data,
  csrfToken: () => current().csrfToken(),
  flash: () => current().consumeFlash('notice'),
  save: () => current().save(),
  login: () => current().login('user-2'),
  logout: () => current().logout(),
  regenerate: () => current().regenerate(),
}

describe('CSRF, form tokens off (the default)', () => {
  it('refuses a session request without Origin, Sec-Fetch-Site or token before the handler, whatever its content type, and changes nothing', async () => {
    const { app, browser, registry, sessionId } = await start({ touchIntervalMs: 0 })
    const before = await registry.find(sessionId)
    const cookie = browser.cookie(COOKIE)
    app.clock.advance(5_000)
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const type of CONTENT_TYPES) {
        let ran = false
        const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type }
        const response = await browser.request({ method, headers }, () => {
          ran = true
        })
        expect(response.error, `${method} ${type}`).toBeInstanceOf(CsrfError)
        expect(response.status).toBe(403)
        expect((response.error as CsrfError).reason).toBe('missing-token')
        expect(ran).toBe(false)
        expect(response.setCookies).toEqual([])
      }
    }
    // Not even the last-seen time moved, and the cookie still works for a real request.
    expect(await registry.find(sessionId)).toEqual(before)
    expect(browser.cookie(COOKIE)).toBe(cookie)
    const real = await browser.request(
      { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
      () => requestContext().get('principal'),
    )
    expect(real.body).toEqual({ id: 'user-1' })
  })
})

describe('CSRF, form tokens on', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' }

  it.each(Object.keys(READS))(
    'withholds %s from a form post until verifyCsrfForm, and refuses it',
    async (read) => {
      const { browser, registry, sessionId } = await start({ csrf: { formField: '_csrf' } })
      const response = await browser.request({ method: 'POST', headers: form }, async () => {
        await READS[read]?.()
      })
      expect(response.error).toBeInstanceOf(CsrfError)
      expect(response.status).toBe(403)
      expect(response.setCookies).toEqual([])
      expect(await registry.find(sessionId)).toMatchObject({ userId: 'user-1' })
    },
  )

  it('refuses the response of a handler that never read the session nor proved the request', async () => {
    const { browser } = await start({ csrf: { formField: '_csrf' } })
    const response = await browser.request(
      { method: 'POST', headers: form },
      () => 'anonymous work',
    )
    expect(response.error).toBeInstanceOf(CsrfError)
    expect(response.status).toBe(403)
  })

  it('gives the request its identity once verifyCsrfForm found the token', async () => {
    const { browser } = await start({ csrf: { formField: '_csrf' } })
    const token = (await browser.request({}, () => current().csrfToken())).body as string
    const proven = await browser.request({ method: 'POST', headers: form }, async () => {
      await verifyCsrfForm({ _csrf: token })
      return [requestContext().get('principal'), current().userId]
    })
    expect(proven.error).toBeUndefined()
    expect(proven.body).toEqual([{ id: 'user-1' }, 'user-1'])
    const wrong = await browser.request({ method: 'POST', headers: form }, () =>
      verifyCsrfForm({ _csrf: `${token}x` }),
    )
    expect((wrong.error as CsrfError).reason).toBe('bad-token')
  })

  it('shows a flash message once when a proven form post reads it, and rolls and touches as any request does', async () => {
    // The load stopped at the hold and never resumed: the flash a form post's page showed was
    // still in the cookie (shown again on the next page), and the session was neither rolled
    // nor touched.
    const { app, browser, registry, sessionId } = await start({
      csrf: { formField: '_csrf' },
      rolling: 60,
      touchIntervalMs: 0,
    })
    const same = { 'sec-fetch-site': 'same-origin' }
    const token = (await browser.request({}, () => current().csrfToken())).body as string
    await browser.request({ method: 'POST', headers: same }, async () => {
      current().flash('notice', 'Saved')
      await current().save()
    })
    app.clock.advance(61_000)
    const shown = await browser.request({ method: 'POST', headers: form }, async () => {
      await verifyCsrfForm({ _csrf: token })
      return current().consumeFlash('notice')
    })
    expect(shown.body).toBe('Saved')
    expect(shown.setCookies).toHaveLength(1)
    expect((await registry.find(sessionId))?.lastSeenAt.getTime()).toBe(app.clock.nowMs())
    const next = await browser.request({}, () => current().consumeFlash('notice'))
    expect(next.body).toBeUndefined()
  })
})

describe('login CSRF', () => {
  it('refuses to log in a request a browser says came from another site, with no session yet', async () => {
    const app = createTestApp({
      modules: [sessionModule({ cookieName: COOKIE, password: KEY, schema })],
    })
    apps.push(app)
    await app.start()
    const login = (headers: Record<string, string>) =>
      new FakeBrowser(app).request({ method: 'POST', headers }, () => current().login('attacker'))
    expect((await login({ 'sec-fetch-site': 'cross-site' })).error).toBeInstanceOf(CsrfError)
    const foreign = await login({ origin: 'https://evil.example', host: 'shop.example' })
    expect((foreign.error as CsrfError).reason).toBe('untrusted-origin')
    expect((await login({ 'sec-fetch-site': 'same-origin' })).error).toBeUndefined()
    // A script (curl, a mobile app) sends neither header and has no cookie to abuse.
    expect((await login({})).error).toBeUndefined()
  })

  it('refuses to write any session for such a request, so it cannot replace the visitor’s', async () => {
    // The browser sent no cookie (SameSite), so the session a handler saved there went out as
    // a new cookie over the visitor's: signed out, or given data of the other site's choosing
    // that a later login kept.
    const app = createTestApp({
      modules: [sessionModule({ cookieName: COOKIE, password: KEY, schema })],
    })
    apps.push(app)
    await app.start()
    const writes = [
      () => current().save(),
      () => current().destroy(),
      () => current().regenerate(),
      () => current().login('attacker'),
    ]
    for (const write of writes) {
      const forged = await new FakeBrowser(app).request(
        { method: 'POST', headers: { origin: 'https://evil.example', host: 'shop.example' } },
        write,
      )
      expect(forged.error).toBeInstanceOf(CsrfError)
      expect(forged.setCookies).toEqual([])
      const cross = await new FakeBrowser(app).request(
        { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } },
        write,
      )
      expect((cross.error as CsrfError).reason).toBe('cross-site')
      const own = await new FakeBrowser(app).request(
        { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
        write,
      )
      expect(own.error).toBeUndefined()
    }
  })
})

describe('one session cookie per response', () => {
  type Step = 'save' | 'login' | 'logout' | 'regenerate' | 'destroy' | 'bump' | 'flash'
  const run: Record<Step, () => unknown> = {
    save: () => current().save(),
    login: () => current().login('user-9'),
    logout: () => current().logout(),
    regenerate: () => current().regenerate(),
    destroy: () => current().destroy(),
    bump: () => {
      current().data.n += 1
    },
    flash: () => current().flash('notice', 'hi'),
  }

  it('sends at most one Set-Cookie, holding the state the handler left, whatever it called', async () => {
    const { browser } = await start()
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...(Object.keys(run) as Step[])), { maxLength: 8 }),
        async (steps) => {
          const response = await browser.request(
            { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
            async () => {
              for (const step of steps) await run[step]()
              await current().save()
              return { id: current().id, userId: current().userId, n: current().data.n }
            },
          )
          expect(response.error).toBeUndefined()
          expect(response.setCookies).toHaveLength(1)
          // The next request reads exactly what the handler left.
          const next = await browser.request({}, () => ({
            id: current().id,
            userId: current().userId,
            n: current().data.n,
          }))
          expect(next.body).toEqual(response.body)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('refuses a change once the response is on its way, before changing anything', async () => {
    const { browser, registry } = await start()
    let late: Current | undefined
    await browser.request({}, () => {
      late = current()
    })
    await expect(late?.login('user-2')).rejects.toThrow(SessionUnavailableError)
    await expect(late?.save()).rejects.toThrow(/already on its way/)
    expect(await registry.list('user-2')).toEqual([])
  })

  it('refuses to regenerate a session revoked while its request ran, registering nothing', async () => {
    const { browser, registry } = await start()
    const raced = await browser.request(
      { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
      async () => {
        // "Log out everywhere" from another device lands while this request runs.
        await registry.revokeAll('user-1')
        await current().regenerate()
      },
    )
    expect(raced.error).toBeInstanceOf(UnauthorizedError)
    expect(await registry.list('user-1')).toEqual([])
    expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
  })

  it('sends no session cookie with an error response', async () => {
    const { browser } = await start()
    const failed = await browser.request(
      { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
      async () => {
        current().data.n = 42
        await current().save()
        throw new Error('the order failed after the save')
      },
    )
    expect(failed.status).toBe(500)
    expect(failed.setCookies).toEqual([])
    expect((await browser.request({}, () => current().data.n)).body).toBe(0)
  })
})

describe('cookie names', () => {
  it('are required, with the reason in the error', () => {
    const options = { password: KEY, schema } as unknown as SessionModuleOptions<typeof schema>
    expect(() => sessionModule(options)).toThrow(SessionConfigError)
    expect(() => sessionModule(options)).toThrow(/cookieName is required.*every port/)
  })

  it("keep two apps on one host with one password out of each other's sessions", async () => {
    const shop = await start()
    const rides = createTestApp({
      modules: [
        sessionModule({
          cookieName: 'rides.session',
          password: KEY,
          schema,
          resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
        }),
      ],
    })
    apps.push(rides)
    await rides.start()
    // The browser sends the shop's cookie to the rides app (same host), and an attacker copies
    // it under the rides app's name: neither is a session there.
    const cookie = shop.browser.cookie(COOKIE) ?? ''
    const visitor = new FakeBrowser(rides)
    const asSent = await visitor.request({ headers: { cookie: `${COOKIE}=${cookie}` } }, () =>
      requestContext().get('principal'),
    )
    expect(asSent.body).toBeUndefined()
    const renamed = await visitor.request({ headers: { cookie: `rides.session=${cookie}` } }, () =>
      requestContext().get('principal'),
    )
    expect(renamed.body).toBeUndefined()
  })
})
