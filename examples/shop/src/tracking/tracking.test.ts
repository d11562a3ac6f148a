import { createHash, randomUUID } from 'node:crypto'
import { get } from 'node:http'
import { ANALYTICS } from '@mortar/analytics'
import { createApp, resolveDatabase, StartupError, Vault } from '@mortar/core'
import { SESSION_REGISTRY } from '@mortar/session'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CatalogDb } from '../catalog/index.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { logIn, SHOPPER_PASSWORD, type Shopper, signUp, signUpShopper } from '../testing/shopper.js'
import { shopTestEngines, startTestShop, useTestShop } from '../testing/test-shop.js'
import { DEVELOPMENT_VAULT_KEY } from '../secrets/index.js'
import { shopTrackingModules } from './tracking-module.js'
import { VISITOR_TAGS } from './visitor-tags.js'

const DAY = 86_400_000

/**
 * The `Set-Cookie` headers of a browser's navigation to `url` (a link from `site`, or the address
 * bar for `none`): node:http, since Node's fetch sends `Sec-Fetch-Mode: cors` whatever it is told.
 */
function navigate(url: string, site: 'none' | 'cross-site'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': site } }, (answer) => {
      answer.resume()
      answer.on('end', () => resolve(answer.headers['set-cookie'] ?? []))
    }).on('error', reject)
  })
}

/** The visitor id of a `Cookie` header (its cookie without the account tag of a linked one). */
function visitorIn(cookieHeader: string): string {
  return /shop\.visitor=([0-9a-f-]{36})/.exec(cookieHeader)?.[1] ?? ''
}

/** What the test reads of analytics' tables. */
interface TrackedTables {
  mortar_analytics_event: {
    name: string
    anonymous_id: string | null
    properties: unknown
  }
  mortar_analytics_identity: { anonymous_id: string; user_id: string }
}

describe('shopTrackingModules', () => {
  it('refuses to start without the Vault that keys the visitor tags, naming what to bind', async () => {
    // The tag was keyed by a second secret of its own; it is now the shop's Vault, which
    // paymentsModule binds: composed without it, the app stops at start, not at the first
    // signed-in request.
    const app = createApp({ database: 'sqlite::memory:', modules: shopTrackingModules() })
    const started = app.start()
    await expect(started).rejects.toBeInstanceOf(StartupError)
    const problems = ((await started.catch((error: unknown) => error)) as StartupError).problems
    expect(problems).toEqual([
      expect.stringMatching(/shop\.visitor-tags.*needs token 'mortar\.vault'.*new Vault\(/),
    ])
    await app.stop()
  })
})

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`tracking on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })
    const analytics = () => shop().app.resolve(ANALYTICS)
    const range = () => ({ from: new Date(Date.now() - DAY), to: new Date(Date.now() + DAY) })

    beforeAll(async () => {
      await resolveDatabase<CatalogDb>(shop().app)
        .updateTable('products')
        .set({ stock: 50 })
        .where('id', 'in', [21, 22, 23, 24])
        .execute()
    })

    async function buy(shopper: Shopper, productIds: number[]): Promise<number> {
      for (const productId of productIds) {
        await shopper.jar.request('POST', '/cart', { productId })
      }
      const placed = await shopper.jar.request('POST', '/orders', {
        paymentMethodId: shopper.paymentMethodId,
      })
      return placed.status
    }

    it('tracks a search with its query, a view, an add to cart and the purchase of one visitor', async () => {
      const visitor = new CookieJar({ base: shop().base, userAgent: 'tracked-visitor' })
      expect((await visitor.request('GET', '/store?q=Zebra%20lamp')).status).toBe(200)
      expect((await visitor.request('GET', '/store/products/21')).status).toBe(200)
      const page = await visitor.request('GET', '/store/products/21')
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? ''
      const added = await visitor.request(
        'POST',
        '/store/cart',
        new URLSearchParams({ _csrf: csrf, productId: '21', quantity: '2' }),
      )
      expect(added.status).toBe(303)
      const { paymentMethodId } = await signUp(visitor, `tracked-${Date.now()}@example.com`)
      const order = await visitor.request('POST', '/orders', { paymentMethodId })
      expect(order.status).toBe(201)
      await analytics().flush({ timeoutMs: 5_000 })

      const searches = await analytics().top('product_searched', 'query', range())
      expect(searches).toContainEqual(expect.objectContaining({ value: 'zebra lamp' }))
      const views = await analytics().top('product_viewed', 'productId', range())
      expect(views).toContainEqual(expect.objectContaining({ value: '21', count: 2 }))
      // One person from the first search to the purchase: the visitor became the account.
      const funnel = await analytics().funnel(
        [{ event: 'product_searched' }, { event: 'cart_added' }, { event: 'order_completed' }],
        { ...range(), windowMs: DAY },
      )
      expect(funnel.map((step) => step.count)).toEqual([1, 1, 1])
      const bought = await analytics().top('order_completed', 'orderId', range())
      expect(bought).toEqual([expect.objectContaining({ value: order.json.id, count: 1 })])
    })

    it('gives the browser a new visitor id at logout, so the next one to log in is not the last', async () => {
      // The visitor id outlived logout: the next person's searches went under an id linked to
      // the previous account (links are first-wins), and forgetting that account deleted them.
      const first = await signUpShopper(shop().base, 'first-on-browser')
      const second = await signUpShopper(shop().base, 'second-on-browser')
      const browser = first.jar
      expect((await browser.request('POST', '/auth/logout')).status).toBe(200)
      expect((await browser.request('GET', '/store?q=walrus')).status).toBe(200)
      const visitor = visitorIn(browser.cookieHeader)
      const login = await browser.request('POST', '/auth/login', {
        email: second.email,
        password: SHOPPER_PASSWORD,
      })
      expect(login.status).toBe(200)
      await analytics().flush({ timeoutMs: 5_000 })

      const db = resolveDatabase<TrackedTables>(shop().app)
      const searched = await db
        .selectFrom('mortar_analytics_event')
        .select('anonymous_id')
        .where('name', '=', 'product_searched')
        .where('anonymous_id', '=', visitor)
        .execute()
      expect(searched).toHaveLength(1)
      const linked = await db
        .selectFrom('mortar_analytics_identity')
        .select('user_id')
        .where('anonymous_id', '=', visitor)
        .execute()
      expect(linked).toEqual([{ user_id: second.userId }])
    })

    it('gives the browser a new visitor id when its session ended without logout: expired, revoked, or another account', async () => {
      // Only logout replaced it: after a session expired or was revoked everywhere, the next
      // person's searches went under the id linked to the last account.
      const first = await signUpShopper(shop().base, 'left-signed-in')
      const linked = visitorIn(first.jar.cookieHeader)
      expect(linked).not.toBe('')
      const visitorCookie = /shop\.visitor=[^;]+/.exec(first.jar.cookieHeader)?.[0] ?? ''
      const db = resolveDatabase<TrackedTables>(shop().app)
      const searchedUnder = async (query: string) => {
        await analytics().flush({ timeoutMs: 5_000 })
        // Filtered here: properties are jsonb on PostgreSQL, text elsewhere.
        const rows = (
          await db
            .selectFrom('mortar_analytics_event')
            .select(['anonymous_id', 'properties'])
            .where('name', '=', 'product_searched')
            .execute()
        ).filter((row) => JSON.stringify(row.properties).includes(query))
        return rows.map((row) => row.anonymous_id)
      }

      // Signed in, the browser keeps its id.
      expect((await first.jar.request('GET', '/store?q=aardvark')).status).toBe(200)
      expect(await searchedUnder('aardvark')).toEqual([linked])

      // The session cookie expired: only the visitor cookie is sent.
      const expired = new CookieJar({ base: shop().base })
      await expired.request('GET', '/store?q=bandicoot', undefined, { cookie: visitorCookie })
      const [afterExpiry] = await searchedUnder('bandicoot')
      expect(afterExpiry).not.toBe(linked)

      // Revoked everywhere (from another device): the same browser, no longer signed in.
      await shop().app.resolve(SESSION_REGISTRY).revokeAll(first.userId)
      expect((await first.jar.request('GET', '/store?q=capybara')).status).toBe(200)
      const [afterRevoke] = await searchedUnder('capybara')
      expect(afterRevoke).not.toBe(linked)

      // Another account logs in on a browser whose cookie names the first one.
      const second = await signUpShopper(shop().base, 'next-on-browser')
      const browser = new CookieJar({ base: shop().base })
      const login = await browser.request(
        'POST',
        '/auth/login',
        { email: second.email, password: SHOPPER_PASSWORD },
        { cookie: visitorCookie },
      )
      expect(login.status).toBe(200)
      await analytics().flush({ timeoutMs: 5_000 })
      const links = await db
        .selectFrom('mortar_analytics_identity')
        .select('user_id')
        .where('anonymous_id', '=', linked)
        .execute()
      expect(links).toEqual([{ user_id: first.userId }])
      expect(visitorIn(browser.cookieHeader)).not.toBe(linked)
    })

    it('tags a linked visitor cookie by the shop vault: no one can tell or write the tag from the account id', async () => {
      // The tag was sha256("shop.visitor:" + user id): anyone who knew an account's id (it is
      // in /me) could tell that account's browsers and write a cookie the shop took as theirs.
      const shopper = await signUpShopper(shop().base, 'tagged')
      const unkeyed = (userId: string) =>
        createHash('sha256').update(`shop.visitor:${userId}`).digest('base64url')
      const tag = /shop\.visitor=[0-9a-f-]{36}\.([A-Za-z0-9_-]{43})/.exec(shopper.jar.cookieHeader)
      expect(tag?.[1]).toBeDefined()
      expect(tag?.[1]).not.toBe(unkeyed(shopper.userId))
      // A cookie tagged from the account id alone is not the account's: the shop gives a new id.
      const forged = randomUUID()
      const db = resolveDatabase<TrackedTables>(shop().app)
      await shopper.jar.request('GET', '/store?q=pangolin', undefined, {
        cookie: `${shopper.jar.cookieHeader.replace(/shop\.visitor=[^;]+/, '')}; shop.visitor=${forged}.${unkeyed(shopper.userId)}`,
      })
      await analytics().flush({ timeoutMs: 5_000 })
      const under = await db
        .selectFrom('mortar_analytics_event')
        .select('anonymous_id')
        .where('anonymous_id', '=', forged)
        .execute()
      expect(under).toEqual([])
      // The tag is the vault's (VAULT_KEYS), not a second secret derived from SESSION_PASSWORD:
      // another session password tags an account as before, a rotated vault key otherwise.
      const tagsUnder = async (env: Record<string, string>) => {
        const other = await startTestShop(engine, { env })
        try {
          const jar = new CookieJar({ base: other.base })
          const signup = await jar.request('POST', '/auth/signup', {
            email: `tagged-${randomUUID()}@example.com`,
            password: SHOPPER_PASSWORD,
          })
          expect(signup.status).toBe(201)
          const userId = (signup.json.user as { id: string }).id
          const sent = /shop\.visitor=[0-9a-f-]{36}\.([A-Za-z0-9_-]{43})/.exec(jar.cookieHeader)
          return { here: shop().app.resolve(VISITOR_TAGS).tag(userId), there: sent?.[1] }
        } finally {
          await other.close()
        }
      }
      const sessionRotated = await tagsUnder({
        SESSION_PASSWORD: 'another-session-password-of-32-characters',
      })
      expect(sessionRotated.there).toBe(sessionRotated.here)
      const vaultRotated = await tagsUnder({
        VAULT_KEYS: `${DEVELOPMENT_VAULT_KEY},k2:${Vault.generateKey()}`,
      })
      expect(vaultRotated.there).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(vaultRotated.there).not.toBe(vaultRotated.here)
    })

    it('counts a client that keeps no cookies as one cookieless visitor, and gives it no visitor cookie', async () => {
      // Every request of an API client (curl, a script) minted a new shop.visitor id it never
      // sent back: one visitor per request in the analytics.
      const userAgent = `api-client-${randomUUID()}`
      for (const q of ['okapi', 'okapi', 'okapi']) {
        const answer = await fetch(`${shop().base}/products?q=${q}`, {
          headers: { 'user-agent': userAgent },
        })
        expect(answer.status).toBe(200)
        expect(answer.headers.getSetCookie().join('\n')).not.toContain('shop.visitor=')
      }
      await analytics().flush({ timeoutMs: 5_000 })
      const db = resolveDatabase<TrackedTables>(shop().app)
      const rows = (
        await db
          .selectFrom('mortar_analytics_event')
          .select(['anonymous_id', 'properties'])
          .where('name', '=', 'product_searched')
          .execute()
      ).filter((row) => JSON.stringify(row.properties).includes('okapi'))
      expect(rows).toHaveLength(3)
      expect(new Set(rows.map((row) => row.anonymous_id)).size).toBe(1)
      // A browser's navigation, from another site too, is given one.
      const navigation = await navigate(`${shop().base}/store?q=okapi`, 'cross-site')
      expect(String(navigation)).toContain('shop.visitor=')
    })

    it('sets the visitor cookie Secure outside development, as the session cookie is', async () => {
      const visitorCookie = async () =>
        (await navigate(`${shop().base}/store?q=lamp`, 'none')).find((cookie) =>
          /^(__Host-)?shop\.visitor=/.test(cookie),
        )
      expect(await visitorCookie()).not.toMatch(/;\s*Secure/i)
      const nodeEnv = process.env.NODE_ENV
      process.env.NODE_ENV = 'production'
      try {
        expect(await visitorCookie()).toMatch(/;\s*Secure(;|$)/i)
      } finally {
        process.env.NODE_ENV = nodeEnv
      }
    })

    it('names the session and visitor cookies __Host- outside development, so no other host can plant them', async () => {
      // A sibling subdomain (or a plain-HTTP answer) could set shop.session to a session of the
      // attacker's account (the victim then saved a card to it) or shop.visitor to an id the
      // victim's sign-in linked to them. Browsers keep a __Host- cookie only from its own host.
      const nodeEnv = process.env.NODE_ENV
      process.env.NODE_ENV = 'production'
      const production = await startTestShop(engine, {
        env: {
          PAGINATION_KEY: 'a-pagination-key-of-32-characters-or-more',
          // Production takes no development mailbox; nothing is mailed here.
          SMTP_URL: 'smtp://127.0.0.1:9',
        },
      }).finally(() => {
        process.env.NODE_ENV = nodeEnv
      })
      try {
        process.env.NODE_ENV = 'production'
        const jar = new CookieJar({ base: production.base })
        await jar.request('GET', '/store?q=lamp')
        const signup = await jar.request('POST', '/auth/signup', {
          email: `host-${randomUUID()}@example.com`,
          password: SHOPPER_PASSWORD,
        })
        expect(signup.status).toBe(201)
        const set = signup.headers.getSetCookie()
        for (const name of ['shop.session', 'shop.visitor']) {
          const cookie = set.find((line) => line.startsWith(`__Host-${name}=`))
          expect(cookie, name).toMatch(/;\s*Secure(;|$)/i)
          expect(cookie).toMatch(/;\s*Path=\/(;|$)/i)
          expect(cookie).not.toMatch(/;\s*Domain=/i)
          expect(set.some((line) => line.startsWith(`${name}=`))).toBe(false)
        }
        // The account is the cookie's: it is read back under its new name.
        expect((await jar.request('GET', '/me')).status).toBe(200)
      } finally {
        process.env.NODE_ENV = nodeEnv
        await production.close()
      }
    })

    it('counts one search however it was cased or spaced, from the page and the API alike', async () => {
      // "Mug", "mug " and "MUG" were three rows of the top searches, each with a third of the count.
      const visitor = new CookieJar({ base: shop().base })
      for (const path of [
        '/store?q=Quokka%20Mug',
        '/store?q=quokka%20mug%20',
        '/products?q=QUOKKA%20%20MUG',
        '/products?q=%20quokka%20Mug',
      ]) {
        expect((await visitor.request('GET', path)).status).toBe(200)
      }
      await analytics().flush({ timeoutMs: 5_000 })
      const searches = await analytics().top('product_searched', 'query', range())
      const quokka = searches.filter((entry) => String(entry.value).includes('uokka'))
      expect(quokka).toEqual([expect.objectContaining({ value: 'quokka mug', count: 4 })])
    })

    it('tracks no purchase for a checkout that fails', async () => {
      const before = await analytics().series('order_completed', { ...range(), interval: 'day' })
      await resolveDatabase<CatalogDb>(shop().app)
        .updateTable('products')
        .set({ stock: 0 })
        .where('id', '=', 25)
        .execute()
      const shopper = await signUpShopper(shop().base, 'unlucky')
      await shopper.jar.request('POST', '/cart', { productId: 25 })
      // The cart takes it (stock is checked at checkout), the checkout refuses it.
      expect(await buy(shopper, [])).toBe(409)
      await analytics().flush({ timeoutMs: 5_000 })
      const after = await analytics().series('order_completed', { ...range(), interval: 'day' })
      const total = (points: { count: number }[]) => points.reduce((sum, p) => sum + p.count, 0)
      expect(total(after)).toBe(total(before))
    })

    it('shows what customers who bought a product also bought, on its page', async () => {
      const [first, second, third] = await Promise.all([
        signUpShopper(shop().base, 'pair-1'),
        signUpShopper(shop().base, 'pair-2'),
        signUpShopper(shop().base, 'pair-3'),
      ])
      if (first === undefined || second === undefined || third === undefined) throw new Error()
      expect(await buy(first, [22, 23])).toBe(201)
      expect(await buy(second, [22, 23])).toBe(201)
      await analytics().flush({ timeoutMs: 5_000 })
      await analytics().rollup()
      const page = await third.jar.request('GET', '/store/products/22')
      const section = /<ul class="grid" id="also-bought">([\s\S]*?)<\/ul>/.exec(page.text)?.[1]
      expect(section).toContain('href="/store/products/23"')
      // Nothing is recommended to a buyer that they already bought.
      const own = await first.jar.request('GET', '/store/products/22')
      expect(own.text).not.toContain('id="also-bought"')
    })

    it('shows the admin the searches and purchases on the dashboard, and no one else', async () => {
      const config = shop().app.config
      const admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
      const dashboard = await admin.request('GET', '/admin/analytics')
      expect(dashboard.status).toBe(200)
      expect(dashboard.text).toContain('zebra lamp')
      expect(dashboard.text).toContain('order_completed')
      const customer = await signUpShopper(shop().base, 'curious')
      expect((await customer.jar.request('GET', '/admin/analytics')).status).toBe(403)
      expect(
        (await new CookieJar({ base: shop().base }).request('GET', '/admin/analytics')).status,
      ).toBe(403)
    })
  })
}
