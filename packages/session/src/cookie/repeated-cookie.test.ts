import { createTestApp, FakeClock, type TestApp } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SessionCookieConflictError } from '../errors.js'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { FakeBrowser } from './fake-browser.js'
import { session } from './session.js'
import { sessionModule } from './session-module.js'

// A name repeats in a Cookie header when cookies of one name were set with different paths or
// domains: planted by a sibling host for the parent domain, or left by an earlier cookie.path.
const NAME = 'repeat.session'
const KEY = 'repeat-0123456789abcdef0123456789abcd'
const schema = z.object({ cart: z.array(z.string()).default([]) })
type Current = ReturnType<typeof session> & { data: z.output<typeof schema> }
const current = () => session() as unknown as Current

const apps: TestApp[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()))
})

async function start(password = KEY, clock = new FakeClock('2026-03-01T10:00:00.000Z')) {
  const app = createTestApp({
    clock,
    modules: [
      sessionModule({
        cookieName: NAME,
        password,
        schema,
        development: true,
        registry: new MemorySessionRegistry(),
        onInvalidData: () => undefined,
      }),
    ],
  })
  apps.push(app)
  await app.start()
  return { app, clock }
}

/** A browser whose session holds a cart, and that cart's cookie value. */
async function withCart(app: TestApp, items: string[], login?: string) {
  const browser = new FakeBrowser(app)
  await browser.request({ method: 'POST' }, async () => {
    if (login !== undefined) await current().login(login)
    current().data.cart = items
    await current().save()
  })
  return { browser, value: browser.cookie(NAME) ?? '' }
}

const readCart = (browser: FakeBrowser, cookie: string) =>
  browser.request({ headers: { cookie } }, () => current().data.cart)

describe('a Cookie header that repeats the session cookie name', () => {
  it('reads the genuine session whatever unusable values sit before or after it, and clears nothing', async () => {
    const { app } = await start()
    const { browser, value } = await withCart(app, ['sku-1', 'sku-2'], 'user-1')
    const foreign = await start('another-app-key-0123456789abcdef01234')
    const { value: otherApp } = await withCart(foreign.app, ['x'])
    // What a sibling host, a stale cookie or a broken client may put under the same name:
    // garbage, non-ASCII, a tampered or truncated copy, a seal made with another key.
    const junk = fc.oneof(
      fc.string({ maxLength: 300 }).filter((text) => !text.includes(';')),
      fc.string({ maxLength: 40, unit: 'grapheme' }).filter((text) => !text.includes(';')),
      fc.nat().map((at) => value.slice(0, at % value.length)),
      fc.tuple(fc.nat(), fc.constantFrom(...'AZaz09-_*.~')).map(([at, char]) => {
        const index = at % value.length
        return value.slice(0, index) + char + value.slice(index + 1)
      }),
      fc.constant(otherApp),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(junk, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        async (values, at) => {
          const parts = values.map((text) => `${NAME}=${text}`)
          parts.splice(at % (parts.length + 1), 0, `${NAME}=${value}`, 'other=1')
          const response = await readCart(browser, parts.join('; '))
          expect(response.status).toBe(200)
          expect(response.body).toEqual(['sku-1', 'sku-2'])
          // A clearing cookie here would delete the genuine one: the cart gone on the next request.
          expect(response.setCookies).toEqual([])
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses values of two different sessions with a typed 400, writing nothing', async () => {
    const { app } = await start()
    const { browser, value: victim } = await withCart(app, ['mine'], 'user-1')
    // A planted session: genuine, made by this app for someone else (the attacker's own).
    const { value: planted } = await withCart(app, ['theirs'], 'attacker')
    const { value: anonymous } = await withCart(app, ['theirs'])
    for (const cookie of [
      `${NAME}=${planted}; ${NAME}=${victim}`,
      `${NAME}=${victim}; ${NAME}=${anonymous}`,
    ]) {
      let ran = false
      const response = await browser.request({ method: 'POST', headers: { cookie } }, () => {
        ran = true
      })
      expect(response.error).toBeInstanceOf(SessionCookieConflictError)
      expect(response.status).toBe(400)
      expect(response.setCookies).toEqual([])
      expect(ran).toBe(false)
    }
    // The visitor's own cookie alone still holds the cart.
    expect((await readCart(browser, `${NAME}=${victim}`)).body).toEqual(['mine'])
  })

  it('takes the newest issued copy of one session, so writes stick', async () => {
    const { app, clock } = await start()
    const { browser, value: older } = await withCart(app, ['a'])
    clock.advance(5_000)
    const sameOrigin = { 'sec-fetch-site': 'same-origin' }
    await browser.request({ method: 'POST', headers: sameOrigin }, async () => {
      current().data.cart = ['a', 'b']
      await current().save()
    })
    const newer = browser.cookie(NAME) ?? ''
    expect(newer).not.toBe(older)
    // The stale copy first, as a cookie with a longer path is sent.
    const response = await readCart(browser, `${NAME}=${older}; ${NAME}=${newer}`)
    expect(response.body).toEqual(['a', 'b'])
  })
})
