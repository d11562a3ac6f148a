import { PASSWORD_HASHER, PasswordHasherBusyError } from '@mortar/auth'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { formFields } from '../testing/html-form.js'
import { routeList } from '../testing/route-list.js'
import { SHOPPER_PASSWORD, signUpShopper } from '../testing/shopper.js'
import { useTestShop } from '../testing/test-shop.js'

const ANY_ID = '00000000-0000-4000-8000-000000000000'

function isHtml(response: { headers: Headers }): boolean {
  return (response.headers.get('content-type') ?? '').startsWith('text/html')
}

describe('the pages answer every error with a page a person can act on', () => {
  const shop = useTestShop()

  afterEach(() => {
    vi.restoreAllMocks()
  })

  for (const action of ['signup', 'login'] as const) {
    it(`keeps the ${action} form, with the reason and Retry-After, when the password hasher is busy`, async () => {
      const hasher = shop().app.resolve(PASSWORD_HASHER)
      vi.spyOn(hasher, 'hash').mockRejectedValue(new PasswordHasherBusyError())
      vi.spyOn(hasher, 'verifyOrDummy').mockRejectedValue(new PasswordHasherBusyError())
      const browser = new CookieJar({ base: shop().base })
      const form = await browser.request('GET', `/store/${action}?next=/store/cart`)
      const email = `busy-${action}@example.com`
      const sent = await browser.request(
        'POST',
        `/store/${action}`,
        formFields(form.text, `/store/${action}`, { email, password: SHOPPER_PASSWORD }),
      )
      expect(sent.status).toBe(503)
      expect(sent.headers.get('retry-after')).toBe('1')
      expect(isHtml(sent)).toBe(true)
      expect(sent.text).toContain('try again in a second')
      // The form again, filled in as sent, still going where the visitor was headed.
      expect(formFields(sent.text, `/store/${action}`).get('email')).toBe(email)
      expect(formFields(sent.text, `/store/${action}`).get('next')).toBe('/store/cart')
    })
  }

  it('names each refused field and why, on the form and on an error page', async () => {
    const browser = new CookieJar({ base: shop().base })
    const form = await browser.request('GET', '/store/signup')
    for (const [email, password, field] of [
      ['short@example.com', 'short', 'password'],
      ['not-an-email', SHOPPER_PASSWORD, 'email'],
    ] as const) {
      const sent = await browser.request(
        'POST',
        '/store/signup',
        formFields(form.text, '/store/signup', { email, password }),
      )
      expect(sent.status).toBe(422)
      expect(/role="alert">([^<]*)/.exec(sent.text)?.[1]).toMatch(new RegExp(`\\b${field}: \\S`))
    }
    const zero = await browser.request(
      'POST',
      '/store/cart',
      formFields(form.text, '/store/signup', { productId: '42', quantity: '0' }),
    )
    expect(`${zero.status} ${isHtml(zero)}`).toBe('422 true')
    expect(zero.text).toMatch(/\bquantity: \S/)
  })

  it('shows an unexpected failure of a form as an HTML page naming the request', async () => {
    vi.spyOn(shop().app.resolve(PASSWORD_HASHER), 'hash').mockRejectedValue(
      new Error('disk on fire'),
    )
    const browser = new CookieJar({ base: shop().base })
    const form = await browser.request('GET', '/store/signup')
    const sent = await browser.request(
      'POST',
      '/store/signup',
      formFields(form.text, '/store/signup', {
        email: 'fire@example.com',
        password: SHOPPER_PASSWORD,
      }),
    )
    expect(sent.status).toBe(500)
    expect(isHtml(sent)).toBe(true)
    expect(sent.text).not.toContain('disk on fire')
    expect(sent.text).toContain(`Request ${sent.headers.get('x-request-id')}`)
  })

  it('answers a request that sent JSON to a page with problem+json still', async () => {
    const sent = await new CookieJar({ base: shop().base }).request('POST', '/store/cart', {
      productId: 'not a number',
    })
    expect(sent.status).toBe(422)
    expect(sent.headers.get('content-type')).toContain('application/problem+json')
  })

  it('shows an unknown page, an oversized form and a 403 as HTML', async () => {
    const browser = new CookieJar({ base: shop().base })
    for (const path of ['/store/no-such-page', '/admin/no-such-page']) {
      const missing = await browser.request('GET', path)
      expect(`${path} ${missing.status} ${isHtml(missing)}`).toBe(`${path} 404 true`)
      // Not a page view: a scan of made-up paths is no visit.
      expect(missing.text).not.toContain('data-page-view')
    }
    const huge = await browser.request(
      'POST',
      '/store/cart',
      new URLSearchParams({ productId: '42', filler: 'x'.repeat(20_000) }),
    )
    expect(`${huge.status} ${isHtml(huge)}`).toBe('413 true')
  })

  it('refuses forged form posts on every unsafe page route with an HTML 403, those added later too', async () => {
    const shopper = await signUpShopper(shop().base, 'forged-html')
    // The same cookie, sent by a page elsewhere: no Origin, no token.
    const forger = new CookieJar({ base: shop().base, origin: null })
    const unsafe = routeList(shop().server).filter(
      (route) =>
        route.method === 'POST' &&
        (route.path.startsWith('/store') || route.path.startsWith('/admin')),
    )
    expect(unsafe).toContainEqual({ method: 'POST', path: '/store/checkout' })
    for (const route of unsafe) {
      const path = route.path.replace(/:[A-Za-z]+/g, ANY_ID)
      const sent = await forger.request('POST', path, new URLSearchParams({ quantity: '1' }), {
        cookie: shopper.jar.cookieHeader,
      })
      expect(`${route.path} ${sent.status} ${isHtml(sent)}`).toBe(`${route.path} 403 true`)
    }
  })

  it('shows a customer every admin page as an HTML 403 and a visitor the login form', async () => {
    const customer = await signUpShopper(shop().base, 'not-admin-html')
    const visitor = new CookieJar({ base: shop().base })
    const pages = routeList(shop().server).filter(
      (route) => route.path.startsWith('/admin') && route.method !== 'POST',
    )
    for (const route of pages) {
      const path = route.path.replace(/:[A-Za-z]+/g, ANY_ID).replace(/\*$/, '')
      const asCustomer = await customer.jar.request('GET', path)
      expect(`${route.path} ${asCustomer.status} ${isHtml(asCustomer)}`).toBe(
        `${route.path} 403 true`,
      )
      const asVisitor = await visitor.request('GET', path)
      expect([303, 403], route.path).toContain(asVisitor.status)
      if (asVisitor.status === 303) {
        expect(asVisitor.headers.get('location')).toBe(
          `/store/login?next=${encodeURIComponent(path)}`,
        )
      }
    }
  })
})
