import { beforeAll, describe, expect, it } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { routeList } from '../testing/route-list.js'
import { logIn } from '../testing/shopper.js'
import { useTestShop } from '../testing/test-shop.js'

describe('security headers: framing by another site, scripts, sniffing', () => {
  const shop = useTestShop()
  let admin: CookieJar

  beforeAll(async () => {
    const config = shop().app.config
    admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
  })

  /** Every GET route's path (parameters as 1), a missing page and a refused parameter. */
  function getPaths(): string[] {
    // The inbox's live stream never ends, so its body cannot be read to the end; it is no page.
    const routes = routeList(shop().server).filter(
      (route) => route.method === 'GET' && route.path !== '/inbox/stream',
    )
    return [
      ...routes.map((route) => route.path.replace(/:\w+/g, '1').replace(/\*$/, '')),
      '/no-such-page',
      '/store/products/not-a-number',
    ]
  }

  it('is refused by every answer of every GET route, pages, errors and mounted handlers alike', async () => {
    const paths = getPaths()
    expect(paths.length).toBeGreaterThan(22)
    for (const path of paths) {
      const answer = await admin.request('GET', path)
      const policy = answer.headers.get('content-security-policy') ?? ''
      expect([path, policy]).toEqual([path, expect.stringMatching(/frame-ancestors '(self|none)'/)])
      expect([path, answer.headers.get('x-frame-options')]).toEqual([
        path,
        expect.stringMatching(/^(SAMEORIGIN|DENY)$/),
      ])
    }
  })

  // Only frame-ancestors was set: markup that slipped past escaping could run an inline script,
  // load one from anywhere, send a form off-site; and no answer said not to sniff its type.
  it('gives every answer a policy that runs no inline or foreign script, and no sniffing', async () => {
    const paths = getPaths()
    for (const path of paths) {
      const answer = await admin.request('GET', path)
      const policy = new Map(
        (answer.headers.get('content-security-policy') ?? '')
          .split(';')
          .map((directive) => directive.trim().split(/\s+/))
          .map(([name = '', ...sources]) => [name, sources] as const),
      )
      const scripts = policy.get('script-src') ?? policy.get('default-src')
      expect([path, scripts]).toEqual([path, expect.any(Array)])
      for (const source of scripts ?? []) {
        expect([path, source]).toEqual([path, expect.stringMatching(/^'(self|none|sha256-.+)'$/)])
      }
      expect([path, policy.get('object-src') ?? policy.get('default-src')]).toEqual([
        path,
        ["'none'"],
      ])
      expect([path, policy.get('base-uri')]).toEqual([path, ["'none'"]])
      expect([path, policy.get('form-action')]).toEqual([path, ["'self'"]])
      expect([path, answer.headers.get('x-content-type-options')]).toEqual([path, 'nosniff'])
    }
  })
})

describe('caching of what a visitor was shown', () => {
  const shop = useTestShop()

  // No answer said how to cache it: after a logout on a shared computer, Back showed the account
  // page (email, saved cards, orders) from the browser's cache, and a shared cache could keep it.
  it('is refused for every answer of every GET route but the static scripts and styles', async () => {
    const config = shop().app.config
    const admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
    const routes = routeList(shop().server).filter(
      (route) => route.method === 'GET' && route.path !== '/inbox/stream',
    )
    const paths = [
      ...routes.map((route) => route.path.replace(/:\w+/g, '1').replace(/\*$/, '')),
      '/no-such-page',
    ]
    const cached: string[] = []
    for (const path of paths) {
      const answer = await admin.request('GET', path)
      const header = answer.headers.get('cache-control') ?? ''
      if (header.startsWith('public')) cached.push(path)
      else expect([path, header]).toEqual([path, 'no-store'])
    }
    // Only files that are the same for everyone may be kept.
    for (const path of cached) expect(path).toMatch(/\/(assets\/[\w.-]+|script\.js|chart\.js)$/)
    const account = await admin.request('GET', '/store/account')
    expect(account.headers.get('cache-control')).toBe('no-store')
  })
})
