import { ConfigError } from '@mortar/core'
import { privateDatabaseUrl } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { loadShopConfig } from '../config.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { signUpShopper } from '../testing/shopper.js'
import { sqliteTestEngine, startTestShop } from '../testing/test-shop.js'

const OLD = 'the-session-password-of-last-year-0123456789'
const NEW = 'the-session-password-of-this-year-9876543210'

function sessionPasswordOf(value: string): unknown {
  return loadShopConfig({ NODE_ENV: 'test', SESSION_PASSWORD: value }).sessionPassword.reveal()
}

function refusal(value: string): string | undefined {
  try {
    sessionPasswordOf(value)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.envVar).join()
    throw error
  }
  return undefined
}

/** The key id a sealed session cookie of `setCookie` was sealed with. */
function keyIdOf(cookie: string): string | undefined {
  return /shop\.session=[^;]*Fe26\.2\*(\d+)\*/.exec(cookie)?.[1]
}

describe('SESSION_PASSWORD', () => {
  it('is one password (key 1) or a key ring, and refuses what is neither', () => {
    expect(sessionPasswordOf(OLD)).toEqual({ 1: OLD })
    expect(sessionPasswordOf(`1:${OLD},2:${NEW}`)).toEqual({ 1: OLD, 2: NEW })
    expect(sessionPasswordOf(` 7:${NEW} `.trim())).toEqual({ 7: NEW })
    for (const bad of [
      'too short',
      `1:${OLD},2:short`,
      `1:${OLD},1:${NEW}`,
      `0:${OLD}`,
      `1:${OLD},`,
      `2:${NEW},x:${OLD}`,
    ]) {
      expect(refusal(bad), bad).toBe('SESSION_PASSWORD')
    }
  })

  it('rotates without logging anyone out or losing a cart, then retires the old password', async () => {
    const database = await privateDatabaseUrl(sqliteTestEngine())
    const restart = (password: string) =>
      startTestShop(sqliteTestEngine(), {
        env: { DATABASE_URL: database.url, SESSION_PASSWORD: password },
      })
    try {
      const before = await restart(OLD)
      const shopper = await signUpShopper(before.base, 'rotated')
      expect((await shopper.jar.request('POST', '/cart', { productId: 42 })).status).toBe(201)
      const oldCookie = shopper.jar.cookieHeader
      await before.close()

      // The new password seals, the old one still opens: the shopper is in, with the cart.
      const during = await restart(`1:${OLD},2:${NEW}`)
      const visitor = new CookieJar({ base: during.base })
      const me = await visitor.request('GET', '/me', undefined, { cookie: oldCookie })
      expect(me.status).toBe(200)
      const cart = await visitor.request('GET', '/cart', undefined, { cookie: oldCookie })
      expect(cart.json.items).toEqual([{ productId: 42, quantity: 1 }])
      const added = await visitor.request('POST', '/cart', { productId: 43 }, { cookie: oldCookie })
      const resealed = added.headers.getSetCookie().find((cookie) => keyIdOf(cookie) !== undefined)
      expect(keyIdOf(resealed ?? '')).toBe('2')
      const newCookie = (resealed ?? '').split(';')[0] ?? ''
      await during.close()

      // The old password retired: cookies it sealed open no more, those of the new one do.
      const after = await restart(`2:${NEW}`)
      const jar = new CookieJar({ base: after.base })
      expect((await jar.request('GET', '/me', undefined, { cookie: oldCookie })).status).toBe(401)
      expect((await jar.request('GET', '/me', undefined, { cookie: newCookie })).status).toBe(200)
      await after.close()
    } finally {
      await database.drop()
    }
  })
})
