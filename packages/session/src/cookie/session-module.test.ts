import { requestContext, Secret } from '@mortar/core'
import { createTestApp, type TestApp } from '@mortar/core/testing'
import fc from 'fast-check'
import { sealData } from 'iron-session'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SessionConfigError, SessionDataError, SessionTooLargeError } from '../errors.js'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { FakeBrowser } from './fake-browser.js'
import { session } from './session.js'
import {
  CLOCK_SKEW_TOLERANCE_MS,
  newCsrfToken,
  newSessionId,
  SessionCodec,
  type SessionPayload,
} from './session-codec.js'
import {
  type InvalidSessionEvent,
  resolveSessionConfig,
  type SessionModuleOptions,
} from './session-config.js'
import { SESSIONS } from './session-manager.js'
import { sessionModule } from './session-module.js'

declare module '@mortar/core' {
  interface Principal {
    id?: string
  }
}

const KEY_1 = 'k1-0123456789abcdef0123456789abcdef'
const KEY_2 = 'k2-0123456789abcdef0123456789abcdef'
const COOKIE = 'test.session'
const schema = z.object({
  cart: z.array(z.string()).default([]),
  theme: z.enum(['light', 'dark']).optional(),
  note: z.string().optional(),
})
type Data = z.output<typeof schema>

const apps: TestApp[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()))
})

async function start(
  options: Partial<SessionModuleOptions<typeof schema>> = {},
  app?: TestApp,
): Promise<{ app: TestApp; browser: FakeBrowser }> {
  const module = sessionModule({ cookieName: COOKIE, password: KEY_1, schema, ...options })
  const created = app ?? createTestApp({ modules: [module] })
  apps.push(created)
  await created.start()
  return { app: created, browser: new FakeBrowser(created) }
}

const sealingKey = (secret: string) =>
  resolveSessionConfig({ cookieName: COOKIE, password: secret, schema }).passwords['1'] as string

/** A new session's payload, begun and issued at `now`. */
const freshPayload = (now: number): SessionPayload => ({
  id: newSessionId(),
  createdAt: now,
  issuedAt: now,
  userId: undefined,
  data: { cart: [] },
  flash: undefined,
  csrfToken: newCsrfToken(),
})

const current = () => session() as unknown as ReturnType<typeof session> & { data: Data }

describe('sessionModule options', () => {
  it('refuses a secret shorter than 32 characters without showing it', () => {
    const attempt = () =>
      sessionModule({ cookieName: 'test.session', password: 'hunter2-hunter2', schema })
    expect(attempt).toThrow(SessionConfigError)
    expect(attempt).toThrow(/15 characters; a session secret needs at least 32/)
    expect(attempt).not.toThrow(/hunter2/)
  })

  it('checks every key of a rotation map and names the key id, not the secret', () => {
    expect(() =>
      sessionModule({
        cookieName: 'test.session',
        password: { 1: KEY_1, 2: 'short-secret' },
        schema,
      }),
    ).toThrow(/password\[2\] is 12 characters/)
    expect(() =>
      sessionModule({ cookieName: 'test.session', password: { current: KEY_1 }, schema }),
    ).toThrow(/key id 'current' is not a positive integer/)
  })

  it('refuses a secret that is long enough but guessable, without showing it', () => {
    for (const password of ['a'.repeat(32), 'changeme'.repeat(4), 'hunter2-'.repeat(4)]) {
      const attempt = () => sessionModule({ cookieName: 'test.session', password, schema })
      expect(attempt).toThrow(SessionConfigError)
      expect(attempt).toThrow(/guessable/)
      expect(attempt).not.toThrow(password)
    }
  })

  it('refuses a secret with whitespace at either end (a line break from an env file, padding), without showing it', () => {
    const edge = fc.constantFrom(' ', '  ', '\n', '\r\n', '\r', '\t', '\u00a0', '\ufeff', '\u2028')
    fc.assert(
      fc.property(
        edge,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (space, atStart, rotated, wrapped) => {
          const padded = atStart ? space + KEY_2 : KEY_2 + space
          const secret = wrapped ? new Secret(padded) : padded
          const password = rotated ? { 1: KEY_1, 2: secret } : secret
          const attempt = () => sessionModule({ cookieName: COOKIE, password, schema })
          expect(attempt).toThrow(SessionConfigError)
          expect(attempt).toThrow(/begins or ends with whitespace/)
          expect(attempt).not.toThrow(KEY_2)
        },
      ),
    )
    // Padding made up the length: 8 characters of secret.
    expect(() =>
      sessionModule({ cookieName: COOKIE, password: `Xq7#pL2v${' '.repeat(24)}`, schema }),
    ).toThrow(SessionConfigError)
  })

  it('refuses a __Host- or __Secure- cookie name with attributes browsers would drop it for', () => {
    const resolve = (cookieName: string, cookie: SessionModuleOptions['cookie']) => () =>
      resolveSessionConfig({ cookieName, password: KEY_1, schema, cookie, development: true })
    for (const [name, cookie, reason] of [
      ['__Host-shop', { secure: false }, /only with Secure/],
      ['__host-shop', { secure: false }, /only with Secure/],
      ['__Secure-shop', { secure: false }, /only with Secure/],
      ['__Host-shop', { domain: 'shop.example' }, /Path=\/ and no Domain/],
      ['__HOST-shop', { path: '/account' }, /Path=\/ and no Domain/],
    ] as const) {
      expect(resolve(name, cookie)).toThrow(SessionConfigError)
      expect(resolve(name, cookie)).toThrow(reason)
    }
    // Secure by default even in development, where unprefixed names are not.
    expect(resolve('__Host-shop', undefined)()).toMatchObject({
      secure: true,
      path: '/',
      domain: undefined,
    })
    expect(resolve('__Secure-shop', { domain: 'shop.example', path: '/a' })()).toMatchObject({
      secure: true,
    })
    expect(resolve('shop.session', undefined)()).toMatchObject({ secure: false })
  })

  it('refuses a cookie path or domain that would inject attributes or that browsers ignore', () => {
    const resolve = (cookie: SessionModuleOptions['cookie']) => () =>
      resolveSessionConfig({ cookieName: COOKIE, password: KEY_1, schema, cookie })
    for (const path of ['/; Domain=evil.example', '/a\r\nSet-Cookie: x=1', 'account', '', '/a b']) {
      expect(resolve({ path })).toThrow(SessionConfigError)
      expect(resolve({ path })).toThrow(/cookie.path/)
    }
    for (const domain of [
      'shop.example; SameSite=None',
      'https://shop.example',
      'shop.example:443',
      'shop.example/a',
      'shop..example',
      '',
      'shop.example\n',
    ]) {
      expect(resolve({ domain })).toThrow(SessionConfigError)
      expect(resolve({ domain })).toThrow(/cookie.domain/)
    }
    expect(resolve({ path: '/app/v1', domain: '.shop.example' })()).toMatchObject({
      path: '/app/v1',
      domain: '.shop.example',
    })
    expect(resolve({ domain: '127.0.0.1' })()).toMatchObject({ domain: '127.0.0.1' })
  })

  it('refuses a rotation map that repeats a secret under two key ids, without showing it', () => {
    const attempt = () =>
      sessionModule({ cookieName: COOKIE, password: { 1: KEY_1, 2: new Secret(KEY_1) }, schema })
    expect(attempt).toThrow(SessionConfigError)
    expect(attempt).toThrow(/password\[2\] repeats the secret of password\[1\]/)
    expect(attempt).not.toThrow(KEY_1)
  })

  it("accepts core's Secret values", () => {
    expect(() =>
      sessionModule({ cookieName: 'test.session', password: new Secret(KEY_1), schema }),
    ).not.toThrow()
    expect(() =>
      sessionModule({
        cookieName: 'test.session',
        password: { 1: new Secret('x'.repeat(31)) },
        schema,
      }),
    ).toThrow(/31 characters/)
  })

  it('refuses a rolling interval not shorter than the ttl, which signs out sessions in use', () => {
    const base = { cookieName: COOKIE, password: KEY_1, schema }
    for (const [ttl, rolling] of [
      [60, 60],
      [60, 300],
      [30, true],
    ] as const) {
      expect(() => sessionModule({ ...base, ttl, rolling })).toThrow(SessionConfigError)
    }
    expect(() => sessionModule({ ...base, ttl: 61, rolling: true })).not.toThrow()
  })

  it('refuses a schema that does not accept an empty session', () => {
    expect(() =>
      sessionModule({
        cookieName: 'test.session',
        password: KEY_1,
        schema: z.object({ userName: z.string() }),
      }),
    ).toThrow(/schema must accept an empty object/)
  })
})

describe('session cookie', () => {
  it('saves data in a sealed cookie and reads it back typed on the next request', async () => {
    const { browser } = await start()
    await browser.request({ method: 'POST' }, async () => {
      current().data.cart.push('sku-1')
      await current().save()
    })
    const sealed = browser.cookie(COOKIE)
    expect(sealed).toMatch(/^Fe26\.2\*1\*/)
    expect(sealed).not.toContain('sku-1')
    const { body } = await browser.request({}, () => current().data.cart)
    expect(body).toEqual(['sku-1'])
  })

  it('sets HttpOnly and SameSite=Lax, and Secure only outside development', async () => {
    const dev = await start({ development: true })
    const devResponse = await dev.browser.request({}, () => current().save())
    expect(devResponse.setCookies[0]).toMatch(/; HttpOnly; SameSite=Lax$/)
    expect(devResponse.setCookies[0]).not.toContain('Secure')

    const prod = await start({ development: false })
    const prodResponse = await prod.browser.request({}, () => current().save())
    expect(prodResponse.setCookies[0]).toMatch(/; HttpOnly; Secure; SameSite=Lax$/)
  })

  it('keeps cookies Secure by default unless NODE_ENV is development or test, unset included', () => {
    const environment = process.env.NODE_ENV
    const secureUnder = (setting: string | undefined) => {
      if (setting === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = setting
      return resolveSessionConfig({ cookieName: 'shop', password: KEY_1, schema }).secure
    }
    try {
      expect(secureUnder('development')).toBe(false)
      expect(secureUnder('test')).toBe(false)
      expect(secureUnder('production')).toBe(true)
      expect(secureUnder('staging')).toBe(true)
      expect(secureUnder(undefined)).toBe(true)
    } finally {
      if (environment === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = environment
    }
  })

  it('gives each session a random 128-bit base64url id', async () => {
    const { browser } = await start()
    const first = await browser.request({}, () => current().id)
    const second = await new FakeBrowser(apps[0] as TestApp).request({}, () => current().id)
    expect(first.body).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(second.body).not.toBe(first.body)
  })

  it('refuses at save() a sealed cookie over 4096 bytes', async () => {
    const { browser } = await start()
    const small = await browser.request({ method: 'POST' }, async () => {
      current().data.note = 'x'.repeat(2000)
      await current().save()
    })
    expect(small.error).toBeUndefined()
    const large = await browser.request(
      { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } },
      async () => {
        current().data.note = 'x'.repeat(4000)
        await current().save()
      },
    )
    expect(large.error).toBeInstanceOf(SessionTooLargeError)
    expect((large.error as SessionTooLargeError).code).toBe('E_SESSION_TOO_LARGE')
    expect(large.setCookies).toEqual([])
  })

  it('saves data whose JSON reads back though it is no plain JSON value (z.coerce.date())', async () => {
    const dated = z.object({
      at: z.coerce.date().optional(),
      cart: z.array(z.string()).default([]),
    })
    const app = createTestApp({
      modules: [sessionModule({ cookieName: COOKIE, password: KEY_1, schema: dated, rolling: 60 })],
    })
    apps.push(app)
    await app.start()
    const browser = new FakeBrowser(app)
    const data = () => session().data as z.output<typeof dated>
    const saved = await browser.request({}, async () => {
      data().at = new Date('2026-03-01T10:00:00.000Z')
      await session().save()
    })
    expect(saved.error).toBeUndefined()
    expect(saved.setCookies).toHaveLength(1)
    // The rolling re-issue seals it again: an error there would only be logged, the cookie never renewed.
    app.clock.advance(61_000)
    const rolled = await browser.request({}, () => data().at?.toISOString())
    expect(rolled.body).toBe('2026-03-01T10:00:00.000Z')
    expect(rolled.setCookies).toHaveLength(1)
  })

  it('saves only data that reads back: what the next request would drop, save() refuses', async () => {
    // The schema checked the data, but the cookie holds its JSON: a Date, a bigint, a Set, an
    // undefined in an array or a transform's output passed save() and then failed the schema on
    // the next request, which dropped the whole session (signed out, data gone).
    const kinds = z.object({
      at: z.date().optional(),
      coerced: z.coerce.date().optional(),
      big: z.bigint().optional(),
      tags: z.set(z.string()).optional(),
      scores: z.array(z.number().optional()).optional(),
      length: z
        .string()
        .transform((text) => text.length)
        .optional(),
      text: z.string().optional(),
      any: z.unknown().optional(),
    })
    const events: InvalidSessionEvent[] = []
    const app = createTestApp({
      modules: [
        sessionModule({
          cookieName: COOKIE,
          password: KEY_1,
          schema: kinds,
          onInvalidData: (event) => events.push(event),
        }),
      ],
    })
    apps.push(app)
    await app.start()
    const values = fc.record(
      {
        at: fc.date({ noInvalidDate: true }),
        coerced: fc.date({ noInvalidDate: true }),
        big: fc.bigInt(),
        tags: fc.array(fc.string()).map((tags) => new Set(tags)),
        scores: fc.array(fc.option(fc.double(), { nil: undefined })),
        length: fc.string(),
        text: fc.string({ unit: 'binary' }),
        any: fc.anything(),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        const browser = new FakeBrowser(app)
        await browser.request({}, () => current().login('u1'))
        const saved = await browser.request({}, async () => {
          Object.assign(current().data, value)
          await current().save()
          return current().id
        })
        if (saved.error !== undefined) {
          expect([SessionDataError, SessionTooLargeError]).toContain(
            (saved.error as object).constructor,
          )
          expect(saved.setCookies).toEqual([])
        }
        const next = await browser.request({}, () => current().userId)
        expect(next.body).toBe('u1')
        expect(events).toEqual([])
      }),
      { numRuns: 200 },
    )
  })

  it('refuses a flash message that is not a string, which would drop the session next time', async () => {
    const { browser } = await start()
    const refused = await browser.request({}, () =>
      current().flash('count', 3 as unknown as string),
    )
    expect(refused.error).toBeInstanceOf(TypeError)
  })

  it('treats data that no longer fits the schema as an empty session and calls the hook', async () => {
    const events: InvalidSessionEvent[] = []
    const { browser } = await start({ onInvalidData: (event) => events.push(event) })
    // A cookie sealed with the right key by an older release whose cart held numbers.
    const old = await sealData(
      {
        v: 1,
        id: 'A'.repeat(22),
        c: Date.UTC(2026, 0, 1),
        i: Date.UTC(2026, 0, 1),
        d: { cart: [1, 2] },
        t: 'T'.repeat(22),
      },
      // The key the module seals with: the secret bound to this cookie name.
      { password: { 1: sealingKey(KEY_1) } },
    )
    browser.setCookie(COOKIE, old)
    const response = await browser.request({}, () => ({
      id: current().id,
      cart: current().data.cart,
    }))
    expect(response.status).toBe(200)
    expect(response.body?.cart).toEqual([])
    expect(response.body?.id).not.toBe('A'.repeat(22))
    expect(events).toEqual([
      {
        reason: 'schema',
        issues: expect.arrayContaining([expect.objectContaining({ path: 'cart.0' })]),
      },
    ])
    expect(response.setCookies[0]).toMatch(/^test\.session=; Max-Age=0/)
  })

  it('treats a tampered cookie as an empty session, never an error', async () => {
    const events: InvalidSessionEvent[] = []
    const { browser } = await start({ onInvalidData: (event) => events.push(event) })
    await browser.request({}, async () => {
      current().data.theme = 'dark'
      await current().save()
    })
    const sealed = browser.cookie(COOKIE) ?? ''
    const flipped = sealed.slice(0, 60) + (sealed[60] === 'A' ? 'B' : 'A') + sealed.slice(61)
    browser.setCookie(COOKIE, flipped)
    const response = await browser.request({}, () => current().data.theme)
    expect(response.status).toBe(200)
    expect(response.body).toBeUndefined()
    expect(events).toEqual([{ reason: 'invalid-seal' }])
  })
})

describe('key rotation', () => {
  it('unseals with an old key, seals with the newest, and logs out cookies of a removed key', async () => {
    const before = await start({ password: { 1: KEY_1 } })
    await before.browser.request({}, async () => {
      current().data.theme = 'dark'
      await current().save()
    })
    const sealedWithKey1 = before.browser.cookie(COOKIE) ?? ''
    expect(sealedWithKey1).toMatch(/^Fe26\.2\*1\*/)

    const rotated = await start({ password: { 1: KEY_1, 2: KEY_2 } })
    rotated.browser.setCookie(COOKIE, sealedWithKey1)
    const read = await rotated.browser.request({}, () => current().data.theme)
    expect(read.body).toBe('dark')
    // Re-sealed with the newest key on that request, so key 1 can be retired.
    expect(rotated.browser.cookie(COOKIE)).toMatch(/^Fe26\.2\*2\*/)

    const events: InvalidSessionEvent[] = []
    const retired = await start({ password: { 2: KEY_2 }, onInvalidData: (e) => events.push(e) })
    retired.browser.setCookie(COOKIE, sealedWithKey1)
    const loggedOut = await retired.browser.request({}, () => current().data.theme)
    expect(loggedOut.body).toBeUndefined()
    expect(events).toEqual([{ reason: 'unknown-key' }])
    retired.browser.setCookie(COOKIE, rotated.browser.cookie(COOKIE))
    const stillIn = await retired.browser.request({}, () => current().data.theme)
    expect(stillIn.body).toBe('dark')
  })

  /** A test app's session module under `password`, its cookie named `cookieName`. */
  const rotationApp = async (cookieName: string, password: Record<number, string>) => {
    const app = createTestApp({
      modules: [sessionModule({ cookieName, password, schema, rolling: 60 })],
    })
    await app.start()
    return { app, browser: new FakeBrowser(app) }
  }

  // A cookie just under 4096 bytes sealed under key 9 grew past them re-sealed under key 10:
  // the re-issue failed (logged), the cookie stayed under key 9, and retiring key 9 later
  // logged the user out without a word.
  it('re-issues under a newer key id of more digits the largest session save() accepts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        async (digits, more, nameLength) => {
          const oldId = 10 ** (digits - 1)
          const newId = Math.max(10 ** (Math.min(digits + more, 9) - 1), oldId + 1)
          const name = `s${'x'.repeat(nameLength - 1)}`
          const before = await rotationApp(name, { [oldId]: KEY_1 })
          const rotated = await rotationApp(name, { [oldId]: KEY_1, [newId]: KEY_2 })
          const retired = await rotationApp(name, { [newId]: KEY_2 })
          try {
            // The largest note save() accepts: step down from one too large by far.
            let note = 'x'.repeat(2900)
            for (;;) {
              const saved = await before.browser.request({}, async () => {
                current().data.note = note
                await current().save()
              })
              if (saved.error === undefined) break
              expect(saved.error).toBeInstanceOf(SessionTooLargeError)
              expect(saved.setCookies).toEqual([])
              note = note.slice(1)
            }
            rotated.browser.setCookie(name, before.browser.cookie(name))
            const read = await rotated.browser.request({}, () => current().data.note)
            expect(read.body).toBe(note)
            expect(rotated.browser.cookie(name)).toMatch(new RegExp(`^Fe26\\.2\\*${newId}\\*`))
            retired.browser.setCookie(name, rotated.browser.cookie(name))
            expect((await retired.browser.request({}, () => current().data.note)).body).toBe(note)
          } finally {
            await Promise.all([before.app.stop(), rotated.app.stop(), retired.app.stop()])
          }
        },
      ),
      { numRuns: 40 },
    )
  }, 120_000)

  it('still rolls a cookie sealed before save() counted the longest key id', async () => {
    const now = Date.UTC(2026, 5, 1)
    // A cookie that fits as sent but not under a 9-digit key id (so save() now refuses it), as
    // an earlier version sealed: found by the cookie name's length, which moves it byte by byte.
    const legacy = async (name: string) => {
      const config = resolveSessionConfig({ cookieName: name, password: { 1: KEY_1 }, schema })
      const codec = new SessionCodec(config, schema)
      for (let length = 2900; ; length -= 1) {
        const payload = { ...freshPayload(now), data: { cart: [], note: 'x'.repeat(length) } }
        const sealed = await codec.seal(payload, { reissue: true }).catch(() => undefined)
        if (sealed === undefined) continue
        const strict = await codec.seal(payload).catch((error: unknown) => error)
        return strict instanceof SessionTooLargeError ? sealed : undefined
      }
    }
    let name = ''
    let sealed: string | undefined
    // Sizes step by a cipher block (22 bytes of base64): some name up to that long finds one.
    while (sealed === undefined && name.length < 24) {
      name += 's'
      sealed = await legacy(name)
    }
    if (sealed === undefined)
      throw new Error('no cookie fits as sent but not under a 9-digit key id')
    const { app, browser } = await rotationApp(name, { 1: KEY_1 })
    apps.push(app)
    app.clock.set(new Date(now + 61_000))
    browser.setCookie(name, sealed)
    const rolled = await browser.request({}, () => current().data.note?.length)
    expect(rolled.body).toBeGreaterThan(2000)
    expect(rolled.setCookies).toHaveLength(1)
    expect(browser.cookie(name)).not.toBe(sealed)
  })
})

describe('expiry', () => {
  it('slides with rolling but ends at the absolute maximum age', async () => {
    const { app, browser } = await start({ ttl: 3600, rolling: 60, absoluteTtl: 3 * 3600 })
    await browser.request({}, async () => {
      current().data.theme = 'dark'
      await current().save()
    })
    // Within the rolling interval: nothing is re-issued.
    app.clock.advance(30_000)
    expect((await browser.request({}, () => current().data.theme)).setCookies).toEqual([])
    // Used every 50 minutes, the session outlives its one-hour ttl...
    for (let step = 0; step < 3; step += 1) {
      app.clock.advance(50 * 60_000)
      const used = await browser.request({}, () => current().data.theme)
      expect(used.body).toBe('dark')
      expect(used.setCookies).toHaveLength(1)
    }
    // ...but not its three-hour absolute maximum.
    app.clock.advance(40 * 60_000)
    const expired = await browser.request({}, () => current().data.theme)
    expect(expired.body).toBeUndefined()
  })

  it('ends at the absolute maximum age however often the session is regenerated', async () => {
    // regenerate() restarted the absolute clock, so a route that regenerates (a role change, a
    // step-up) kept a sign-in alive past absoluteTtl for as long as it was called.
    const registry = new MemorySessionRegistry()
    const { app, browser } = await start({
      ttl: 3600,
      rolling: 60,
      absoluteTtl: 3 * 3600,
      registry,
    })
    await browser.request({}, () => current().login('u1'))
    for (let step = 0; step < 3; step += 1) {
      app.clock.advance(50 * 60_000)
      const regenerated = await browser.request({}, async () => {
        await current().regenerate()
        return current().userId
      })
      expect(regenerated.body).toBe('u1')
    }
    app.clock.advance(40 * 60_000)
    expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
    // A new sign-in starts a new session, with its own absolute maximum age.
    await browser.request({}, () => current().login('u1'))
    app.clock.advance(50 * 60_000)
    expect((await browser.request({}, () => current().userId)).body).toBe('u1')
  })

  it('refuses a cookie sealed over the tolerance ahead of its clock, however often it is replayed', async () => {
    // Its times were taken as now and it was re-issued: a kept copy of the first cookie began
    // again on every request, so ttl and absoluteTtl never ended it.
    const events: InvalidSessionEvent[] = []
    const { app, browser } = await start({
      ttl: 3600,
      rolling: 60,
      absoluteTtl: 7200,
      onInvalidData: (event) => events.push(event),
    })
    const correct = app.clock.nowMs()
    const sealAhead = async (aheadMs: number) => {
      app.clock.set(correct + aheadMs) // the server that answers runs this far ahead
      await browser.request({}, async () => {
        current().data.theme = 'dark'
        await current().save()
      })
      app.clock.set(correct)
      return browser.cookie(COOKIE)
    }
    // Four hours ahead: every replay within the session's absoluteTtl of now is refused.
    const far = await sealAhead(4 * 3600_000)
    for (const minutes of [0, 50, 100, 150]) {
      app.clock.set(correct + minutes * 60_000)
      browser.setCookie(COOKIE, far)
      const replayed = await browser.request({}, () => current().data.theme)
      expect(replayed.body).toBeUndefined()
      expect(replayed.setCookies).toEqual([expect.stringMatching(/Max-Age=0/)])
    }
    expect(events).toEqual(Array(4).fill({ reason: 'issued-ahead' }))
    // Within the tolerance it is left as sealed: it lives at most that much past its ttl.
    const near = await sealAhead(CLOCK_SKEW_TOLERANCE_MS)
    expect(await browser.request({}, () => current().data.theme)).toMatchObject({
      body: 'dark',
      setCookies: [],
    })
    app.clock.set(correct + CLOCK_SKEW_TOLERANCE_MS + 3600_000 + 1)
    browser.setCookie(COOKIE, near)
    expect((await browser.request({}, () => current().data.theme)).body).toBeUndefined()
  })

  it('without rolling, ends ttl after the last save', async () => {
    const { app, browser } = await start({ ttl: 3600 })
    await browser.request({}, async () => {
      current().data.theme = 'dark'
      await current().save()
    })
    app.clock.advance(59 * 60_000)
    const used = await browser.request({}, () => current().data.theme)
    expect(used.body).toBe('dark')
    expect(used.setCookies).toEqual([])
    app.clock.advance(2 * 60_000)
    expect((await browser.request({}, () => current().data.theme)).body).toBeUndefined()
  })
})

describe('flash messages', () => {
  it('live for exactly the next request', async () => {
    const { browser } = await start()
    await browser.request({ method: 'POST' }, async () => {
      current().flash('notice', 'Saved')
      await current().save()
    })
    const next = await browser.request({}, () => [
      current().consumeFlash('notice'),
      current().consumeFlash('notice'),
    ])
    expect(next.body).toEqual(['Saved', undefined])
    const afterwards = await browser.request({}, () => current().consumeFlash('notice'))
    expect(afterwards.body).toBeUndefined()
  })

  it('keep every key, those named like Object.prototype members included', async () => {
    const { browser } = await start()
    const keys = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', ''),
      fc.string({ maxLength: 8 }),
    )
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(keys, { minLength: 1, maxLength: 4 }), async (names) => {
        await browser.request({}, async () => {
          for (const name of names) current().flash(name, `message ${name}`)
          await current().save()
        })
        const next = await browser.request({}, () =>
          names.map((name) => current().consumeFlash(name)),
        )
        expect(next.body).toEqual(names.map((name) => `message ${name}`))
      }),
      { numRuns: 30 },
    )
  })

  it('are gone after the next request even when it did not read them', async () => {
    const { browser } = await start()
    await browser.request({}, async () => {
      current().flash('notice', 'Saved')
      await current().save()
    })
    await browser.request({})
    expect((await browser.request({}, () => current().consumeFlash('notice'))).body).toBeUndefined()
  })
})

describe('login, registry and principal', () => {
  it('regenerate changes the id and revokes the old id in the registry', async () => {
    const registry = new MemorySessionRegistry()
    const { browser } = await start({ registry })
    const login = await browser.request({}, async () => {
      await current().login('user-1')
      return current().id
    })
    const firstId = login.body ?? ''
    expect(await registry.find(firstId)).toMatchObject({ userId: 'user-1', ip: '203.0.113.7' })
    const regenerated = await browser.request({}, async () => {
      await current().regenerate()
      return current().id
    })
    expect(regenerated.body).not.toBe(firstId)
    expect(await registry.find(firstId)).toBeUndefined()
    expect(await registry.find(regenerated.body ?? '')).toMatchObject({ userId: 'user-1' })
  })

  it('login regenerates an anonymous session id, against fixation', async () => {
    const { browser } = await start()
    const anonymous = await browser.request({}, async () => {
      await current().save()
      return current().id
    })
    const loggedIn = await browser.request({}, async () => {
      await current().login('user-1')
      return [current().id, current().userId]
    })
    expect(loggedIn.body?.[0]).not.toBe(anonymous.body)
    expect(loggedIn.body?.[1]).toBe('user-1')
  })

  it('refuses a revoked session on its next request and clears the cookie', async () => {
    const registry = new MemorySessionRegistry()
    const { app, browser } = await start({ registry })
    const { body: id } = await browser.request({}, async () => {
      await current().login('user-1')
      current().data.theme = 'dark'
      await current().save()
      return current().id
    })
    expect(await app.resolve(SESSIONS).revoke({ id: id ?? '', userId: 'user-1' })).toBe(true)
    const next = await browser.request({}, () => [current().userId, current().data.theme])
    expect(next.body).toEqual([undefined, undefined])
    expect(next.setCookies[0]).toMatch(/^test\.session=; Max-Age=0/)
    expect(browser.cookie(COOKIE)).toBeUndefined()
  })

  it("SESSIONS.revoke ends only the named user's session: another's id is refused and stays live", async () => {
    const registry = new MemorySessionRegistry()
    const { app, browser } = await start({ registry })
    const victim = new FakeBrowser(app)
    const { body: victimId } = await victim.request({}, async () => {
      await current().login('victim')
      return current().id
    })
    // A "log out this device" route that passes the request's id with the caller's user id.
    const attempt = await browser.request({}, async () => {
      await current().login('attacker')
      const userId = current().userId ?? ''
      return app.resolve(SESSIONS).revoke({ id: victimId ?? '', userId })
    })
    expect(attempt.body).toBe(false)
    expect((await victim.request({}, () => current().userId)).body).toBe('victim')
  })

  it("refuses a cookie whose clear id does not match its sealed one (another user's id swapped in)", async () => {
    const registry = new MemorySessionRegistry()
    const events: InvalidSessionEvent[] = []
    const { app, browser } = await start({ registry, onInvalidData: (event) => events.push(event) })
    const victim = new FakeBrowser(app)
    const { body: victimId } = await victim.request({}, async () => {
      await current().login('victim')
      return current().id
    })
    await browser.request({}, () => current().login('attacker'))
    const cookie = browser.cookie(COOKIE) ?? ''
    expect(cookie.slice(0, 23)).toMatch(/^[A-Za-z0-9_-]{22}\.$/)
    browser.setCookie(COOKIE, `${victimId}.${cookie.slice(23)}`)
    const swapped = await browser.request({}, () => current().userId)
    expect(swapped.body).toBeUndefined()
    expect(events).toEqual([{ reason: 'invalid-seal' }])
  })

  it('lists sessions and logs out everywhere but here', async () => {
    const registry = new MemorySessionRegistry()
    const { app, browser } = await start({ registry })
    const phone = new FakeBrowser(app)
    await phone.request({ userAgent: 'Phone' }, () => current().login('user-1'))
    const { body: hereId } = await browser.request({}, async () => {
      await current().login('user-1')
      return current().id
    })
    const sessions = app.resolve(SESSIONS)
    expect((await sessions.listSessions('user-1')).map((s) => s.userAgent).sort()).toEqual([
      'FakeBrowser/1.0',
      'Phone',
    ])
    expect(await sessions.revokeAll('user-1', { except: hereId ?? '' })).toBe(1)
    expect((await phone.request({}, () => current().userId)).body).toBeUndefined()
    expect((await browser.request({}, () => current().userId)).body).toBe('user-1')
  })

  it('touches last-seen at most once per touchIntervalMs', async () => {
    const registry = new MemorySessionRegistry()
    const { app, browser } = await start({ registry, touchIntervalMs: 60_000 })
    const { body: id } = await browser.request({}, async () => {
      await current().login('user-1')
      return current().id
    })
    const lastSeen = async () => (await registry.find(id ?? ''))?.lastSeenAt.getTime()
    const loggedInAt = await lastSeen()
    app.clock.advance(30_000)
    await browser.request({})
    expect(await lastSeen()).toBe(loggedInAt)
    app.clock.advance(30_000)
    await browser.request({})
    expect(await lastSeen()).toBe(app.clock.nowMs())
  })

  it('fills the principal slot before the handler runs', async () => {
    const { browser } = await start({
      resolvePrincipal: (data, { userId }) =>
        userId ? { id: `${userId}:${data.theme}` } : undefined,
    })
    await browser.request({}, async () => {
      current().data.theme = 'dark'
      await current().login('user-1')
    })
    const seen = await browser.request({}, () => requestContext().get('principal'))
    expect(seen.body).toEqual({ id: 'user-1:dark' })
    await browser.request({}, () => current().logout())
    expect(
      (await browser.request({}, () => requestContext().get('principal'))).body,
    ).toBeUndefined()
  })

  it('SessionManager explains that it needs a registry', async () => {
    const { app } = await start()
    await expect(app.resolve(SESSIONS).listSessions('user-1')).rejects.toThrow(
      /needs a session registry/,
    )
  })
})
