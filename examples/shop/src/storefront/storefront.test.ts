import { resolveDatabase } from '@mortar/core'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CatalogDb } from '../catalog/index.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { inputValue } from '../testing/html-form.js'
import { routeList } from '../testing/route-list.js'
import { SHOPPER_PASSWORD, signUpShopper } from '../testing/shopper.js'
import { useTestShop } from '../testing/test-shop.js'

describe('the storefront over HTTP (forms, as a browser without script sends them)', () => {
  const shop = useTestShop()
  let browser: CookieJar

  beforeAll(async () => {
    await resolveDatabase<CatalogDb>(shop().app)
      .updateTable('products')
      .set({ stock: 3 })
      .where('id', '=', 42)
      .execute()
    browser = new CookieJar({ base: shop().base, userAgent: 'storefront-test' })
  })

  const form = (page: string, fields: Record<string, string>) =>
    new URLSearchParams({ _csrf: inputValue(page, '_csrf') ?? '', ...fields })

  it('sends / to the storefront and serves its stylesheet and script', async () => {
    expect((await browser.request('GET', '/')).headers.get('location')).toBe('/store')
    const script = await browser.request('GET', '/store/assets/shop.js')
    expect(script.headers.get('content-type')).toContain('text/javascript')
    expect(script.text).toContain('win.confirm(question)')
    // Each page loads the analytics script, which sends the heartbeats.
    expect((await browser.request('GET', '/store')).text).toMatch(
      /<script src="\/analytics\/script.js" data-page-view="[0-9a-f-]{36}" data-endpoint="\/analytics\/collect"/,
    )
    const etag = script.headers.get('etag') ?? ''
    expect(
      (
        await browser.request('GET', '/store/assets/shop.js', undefined, {
          'if-none-match': etag,
        })
      ).status,
    ).toBe(304)
  })

  it('searches, escaping the query it shows, and pages on with a cursor', async () => {
    const found = await browser.request('GET', '/store?q=%3Cb%3ELamp')
    expect(found.status).toBe(200)
    expect(found.text).toContain('&lt;b&gt;Lamp')
    expect(found.text).not.toContain('<b>Lamp')
    const lamps = await browser.request('GET', '/store?q=lamp')
    const next = /href="(\/store\?[^"]*after=[^"]*)"/
      .exec(lamps.text)?.[1]
      ?.replaceAll('&amp;', '&')
    expect(next).toBeDefined()
    const second = await browser.request('GET', next ?? '')
    expect(second.status).toBe(200)
    expect(second.text).toContain('Lamp')
    const forged = await browser.request('GET', '/store?after=forged')
    expect(forged.status).toBe(422)
    expect(forged.headers.get('content-type')).toContain('text/html')
  })

  it('shows a product and a 404 page for a missing one', async () => {
    const product = await browser.request('GET', '/store/products/42')
    expect(product.text).toContain('3 in stock')
    expect((await browser.request('GET', '/store/products/99999')).status).toBe(404)
    expect((await browser.request('GET', '/store/products/abc')).status).toBe(404)
  })

  it('adds to the cart, signs up, saves a card, checks out once and shows the order', async () => {
    const product = await browser.request('GET', '/store/products/42')
    const added = await browser.request(
      'POST',
      '/store/cart',
      form(product.text, { productId: '42', quantity: '2' }),
    )
    expect(added.status).toBe(303)
    expect(added.headers.get('location')).toBe('/store/cart')
    const cart = await browser.request('GET', '/store/cart')
    expect(cart.text).toContain('Added to your cart.')
    expect(cart.text).toContain('id="cart-count">2<')

    const checkout = await browser.request('GET', '/store/checkout')
    expect(checkout.headers.get('location')).toBe('/store/login?next=%2Fstore%2Fcheckout')
    const signupPage = await browser.request('GET', '/store/signup?next=/store/checkout')
    const email = `form-${Date.now()}@example.com`
    const signedUp = await browser.request(
      'POST',
      '/store/signup',
      form(signupPage.text, { email, password: SHOPPER_PASSWORD, next: '/store/checkout' }),
    )
    expect(signedUp.headers.get('location')).toBe('/store/checkout')

    const account = await browser.request('GET', '/store/account')
    const saved = await browser.request(
      'POST',
      '/store/account/payment-methods',
      form(account.text, { token: 'tok_visa_4242', last4: '4242', brand: 'visa' }),
    )
    expect(saved.status).toBe(303)

    const ready = await browser.request('GET', '/store/checkout')
    const fields = {
      checkoutKey: inputValue(ready.text, 'checkoutKey') ?? '',
      paymentMethodId: inputValue(ready.text, 'paymentMethodId') ?? '',
    }
    const placed = await browser.request('POST', '/store/checkout', form(ready.text, fields))
    const orderPath = placed.headers.get('location') ?? ''
    expect(orderPath).toMatch(/^\/store\/orders\/[0-9a-f-]{36}$/)
    // The same form again (a double submit): the same order, not a second one.
    const again = await browser.request('POST', '/store/checkout', form(ready.text, fields))
    expect(again.headers.get('location')).toBe(orderPath)

    const order = await browser.request('GET', orderPath)
    expect(order.text).toContain('Thank you!')
    expect(order.text).toContain('<strong class="status">placed</strong>')
    const history = await browser.request('GET', '/store/orders')
    expect(history.text.match(/href="\/store\/orders\/[0-9a-f-]{36}"/g)).toHaveLength(1)
    expect((await browser.request('GET', '/store/cart')).text).toContain('Your cart is empty')

    // The ordered form sent again over a new cart (a stale tab): a notice back at the
    // checkout, the new cart kept, no second order (a bare 422 error page before).
    const more = await browser.request('GET', '/store/products/42')
    await browser.request(
      'POST',
      '/store/cart',
      form(more.text, { productId: '42', quantity: '1' }),
    )
    const stale = await browser.request('POST', '/store/checkout', form(ready.text, fields))
    expect(stale.status, stale.text).toBe(303)
    expect(stale.headers.get('location')).toBe('/store/checkout')
    const back = await browser.request('GET', '/store/checkout')
    expect(back.text).toContain('placed an order with another cart')
    expect(back.text).toContain('id="cart-count">1<')
    const orders = await browser.request('GET', '/store/orders')
    expect(orders.text.match(/href="\/store\/orders\/[0-9a-f-]{36}"/g)).toHaveLength(1)

    // Sold out meanwhile: the notice at the cart (a 500 E_AUTH_NOT_VERIFIED in development, as
    // the failed checkout had touched the orders before any authorization call).
    await resolveDatabase<CatalogDb>(shop().app)
      .updateTable('products')
      .set({ stock: 0 })
      .where('id', '=', 42)
      .execute()
    const soldOutPage = await browser.request('GET', '/store/checkout')
    const soldOut = await browser.request(
      'POST',
      '/store/checkout',
      form(soldOutPage.text, {
        checkoutKey: inputValue(soldOutPage.text, 'checkoutKey') ?? '',
        paymentMethodId: inputValue(soldOutPage.text, 'paymentMethodId') ?? '',
      }),
    )
    expect(soldOut.status, soldOut.text).toBe(303)
    expect(soldOut.headers.get('location')).toBe('/store/cart')
    expect((await browser.request('GET', '/store/cart')).text).toContain('sold out')
  })

  it('checks out a cart changed with an older cookie after its order as a new order', async () => {
    // With the cart in the cookie, an older cookie brought back the ordered cart and its spent
    // key, and every submit of the changed cart came back with a notice until the key was
    // renewed. The cart is in the database now: an older cookie changes the cart as it is.
    const shopper = await signUpShopper(shop().base, 'spent-key')
    const jar = shopper.jar
    await jar.request('POST', '/cart', { productId: 43, quantity: 1 })
    const beforeOrder = jar.cookieHeader
    const checkout = async () => {
      const ready = await jar.request('GET', '/store/checkout')
      return jar.request(
        'POST',
        '/store/checkout',
        form(ready.text, {
          checkoutKey: inputValue(ready.text, 'checkoutKey') ?? '',
          paymentMethodId: inputValue(ready.text, 'paymentMethodId') ?? '',
          quote: inputValue(ready.text, 'quote') ?? '',
        }),
      )
    }
    expect((await checkout()).headers.get('location')).toMatch(/^\/store\/orders\//)
    const product = await jar.request('GET', '/store/products/43', undefined, {
      cookie: beforeOrder,
    })
    await jar.request(
      'POST',
      '/store/cart',
      form(product.text, { productId: '43', quantity: '1' }),
      { cookie: beforeOrder },
    )
    const placed = await checkout()
    expect(placed.headers.get('location')).toMatch(/^\/store\/orders\/[0-9a-f-]{36}$/)
    const orders = await jar.request('GET', '/store/orders')
    expect(orders.text.match(/href="\/store\/orders\/[0-9a-f-]{36}"/g)).toHaveLength(2)
  })

  it('refuses a checkout form whose cart or prices changed since the page, and shows them again', async () => {
    // A product added in another tab, or a price changed, was ordered and charged unseen: the
    // form's key is the cart's, which adding keeps, and the page's total was never checked.
    await resolveDatabase<CatalogDb>(shop().app)
      .updateTable('products')
      .set({ stock: 10 })
      .where('id', 'in', [44, 45])
      .execute()
    const shopper = await signUpShopper(shop().base, 'stale-checkout')
    const jar = shopper.jar
    await jar.request('POST', '/cart', { productId: 44, quantity: 1 })
    const submit = (page: string) =>
      jar.request(
        'POST',
        '/store/checkout',
        form(page, {
          checkoutKey: inputValue(page, 'checkoutKey') ?? '',
          paymentMethodId: inputValue(page, 'paymentMethodId') ?? '',
          quote: inputValue(page, 'quote') ?? '',
        }),
      )
    const orderCount = async () =>
      (
        (await jar.request('GET', '/store/orders')).text.match(
          /href="\/store\/orders\/[0-9a-f-]{36}"/g,
        ) ?? []
      ).length

    const shown = await jar.request('GET', '/store/checkout')
    await jar.request('POST', '/cart', { productId: 45, quantity: 3 })
    const changedCart = await submit(shown.text)
    expect(changedCart.headers.get('location')).toBe('/store/checkout')
    const again = await jar.request('GET', '/store/checkout')
    expect(again.text).toContain('Your cart or its prices changed')
    expect(again.text).toContain('3 × ')
    expect(await orderCount()).toBe(0)

    await resolveDatabase<CatalogDb>(shop().app)
      .updateTable('products')
      .set((eb) => ({ price_cents: eb('price_cents', '+', 100) }))
      .where('id', '=', 45)
      .execute()
    const changedPrice = await submit(again.text)
    expect(changedPrice.headers.get('location')).toBe('/store/checkout')
    expect(await orderCount()).toBe(0)

    const current = await jar.request('GET', '/store/checkout')
    const placed = await submit(current.text)
    expect(placed.headers.get('location')).toMatch(/^\/store\/orders\/[0-9a-f-]{36}$/)
    const order = await jar.request('GET', placed.headers.get('location') ?? '')
    expect(order.text).toContain(/id="checkout-total">([^<]*)</.exec(current.text)?.[1] ?? '?')
    expect(await orderCount()).toBe(1)
  })

  it('refuses the form of an ordered cart sent again with another card, with a notice', async () => {
    // The order's cookie lost, the same cart's form sent with another card was refused, its
    // key renewed, and the next submit ordered (and charged) the cart a second time.
    const shopper = await signUpShopper(shop().base, 'same-cart')
    const jar = shopper.jar
    const card = await jar.request('POST', '/payment-methods', {
      token: 'tok_same_cart_3333',
      last4: '3333',
      brand: 'visa',
    })
    await jar.request('POST', '/cart', { productId: 43, quantity: 1 })
    const ready = await jar.request('GET', '/store/checkout')
    const submit = (paymentMethodId: string) =>
      jar.request(
        'POST',
        '/store/checkout',
        form(ready.text, {
          checkoutKey: inputValue(ready.text, 'checkoutKey') ?? '',
          quote: inputValue(ready.text, 'quote') ?? '',
          paymentMethodId,
        }),
      )
    const placed = await submit(shopper.paymentMethodId)
    expect(placed.headers.get('location')).toMatch(/^\/store\/orders\//)
    const refused = await submit(card.json.id as string)
    expect(refused.headers.get('location')).toBe('/store/orders')
    const orders = await jar.request('GET', '/store/orders')
    expect(orders.text).toContain('This cart was ordered already')
    expect(orders.text.match(/href="\/store\/orders\/[0-9a-f-]{36}"/g)).toHaveLength(1)
    await submit(card.json.id as string)
    const after = await jar.request('GET', '/store/orders')
    expect(after.text.match(/href="\/store\/orders\/[0-9a-f-]{36}"/g)).toHaveLength(1)
  })

  it('answers a card token saved already as another card with a notice on the account page', async () => {
    // A bare 422 error page before, where the checkout's errors come back as a notice.
    const { jar } = await signUpShopper(shop().base, 'token-reuse')
    const save = async (last4: string) => {
      const account = await jar.request('GET', '/store/account')
      return jar.request(
        'POST',
        '/store/account/payment-methods',
        form(account.text, { token: 'tok_form_reused_1', last4, brand: 'visa' }),
      )
    }
    expect((await save('4242')).status).toBe(303)
    const reused = await save('1111')
    expect(reused.status, reused.text).toBe(303)
    expect(reused.headers.get('location')).toBe('/store/account')
    const account = await jar.request('GET', '/store/account')
    expect(account.text).toContain('saved already with another brand or last four digits')
    expect(account.text).not.toContain('•••• 1111')
  })

  it('saves a mobile number and the consent to texts, and refuses a malformed number', async () => {
    const account = await browser.request('GET', '/store/account')
    const saved = await browser.request(
      'POST',
      '/store/account/phone',
      form(account.text, { phone: '+1 (555) 010-0123', smsOptIn: 'on' }),
    )
    expect(saved.status).toBe(303)
    const after = await browser.request('GET', '/store/account')
    expect(inputValue(after.text, 'phone')).toBe('+15550100123')
    expect(after.text).toMatch(/name="smsOptIn" checked/)
    const bad = await browser.request(
      'POST',
      '/store/account/phone',
      form(after.text, { phone: '555-CALL-NOW' }),
    )
    expect(bad.status).toBe(422)
    const cleared = await browser.request(
      'POST',
      '/store/account/phone',
      form(after.text, { phone: '' }),
    )
    expect(cleared.status).toBe(303)
    expect((await browser.request('GET', '/store/account')).text).not.toMatch(
      /name="smsOptIn" checked/,
    )
  })

  it('shows a wrong password on the login form again, and logs out', async () => {
    const loginPage = await browser.request('GET', '/store/login')
    const wrong = await new CookieJar({ base: shop().base }).request(
      'POST',
      '/store/login',
      form(loginPage.text, { email: 'nobody@example.com', password: 'wrong password' }),
    )
    expect(wrong.status).toBe(401)
    expect(wrong.text).toContain('Wrong email or password.')
    expect(wrong.text).toContain('value="nobody@example.com"')
    const page = await browser.request('GET', '/store')
    const out = await browser.request('POST', '/store/logout', form(page.text, {}))
    expect(out.headers.get('location')).toBe('/store')
    expect((await browser.request('GET', '/store')).text).toContain('You are logged out.')
  })

  it('refuses a logged-in form post that carries neither Origin nor the CSRF token', async () => {
    const shopper = new CookieJar({ base: shop().base, origin: null })
    const page = await shopper.request('GET', '/store/signup')
    await shopper.request(
      'POST',
      '/store/signup',
      form(page.text, { email: `csrf-${Date.now()}@example.com`, password: SHOPPER_PASSWORD }),
    )
    const forged = await shopper.request(
      'POST',
      '/store/cart',
      new URLSearchParams({ productId: '42', quantity: '1' }),
    )
    // A page the visitor can read, not the API's problem+json.
    expect(forged.status).toBe(403)
    expect(forged.headers.get('content-type')).toContain('text/html')
    expect(forged.text).toContain('<h1>Forbidden</h1>')
    expect((await shopper.request('GET', '/cart')).json.items).toEqual([])
  })

  it('refuses customers (403) and visitors on every admin route, those added later too', async () => {
    const admin = routeList(shop().server).filter((route) => route.path.startsWith('/admin'))
    expect(admin).toContainEqual({ method: 'POST', path: '/admin/orders/:id/status' })
    const customer = await signUpShopper(shop().base, 'not-an-admin')
    const visitor = new CookieJar({ base: shop().base })
    for (const route of admin) {
      const path = route.path
        .replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000')
        .replace(/\*$/, '')
      // The jar sends GET, POST and DELETE; a route mounted for every method is tried with GET.
      const method = route.method === 'POST' || route.method === 'DELETE' ? route.method : 'GET'
      const body = method === 'POST' ? { status: 'shipped' } : undefined
      const asCustomer = await customer.jar.request(method, path, body)
      expect(`${route.method} ${route.path}: ${asCustomer.status}`).toBe(
        `${route.method} ${route.path}: 403`,
      )
      const asVisitor = await visitor.request(method, path, body)
      // Pages send a visitor to the login form; the dashboard and the mailbox answer 403.
      expect([303, 401, 403], `${route.method} ${route.path}`).toContain(asVisitor.status)
    }
  })

  it('keeps customers out of the admin pages and lets the admin in', async () => {
    expect((await browser.request('GET', '/admin')).status).toBe(303)
    const config = shop().app.config
    const admin = new CookieJar({ base: shop().base })
    const loginPage = await admin.request('GET', '/store/login')
    await admin.request(
      'POST',
      '/store/login',
      form(loginPage.text, { email: config.adminEmail, password: config.adminPassword.reveal() }),
    )
    const overview = await admin.request('GET', '/admin')
    expect(overview.status).toBe(200)
    const orders = await admin.request('GET', '/admin/orders')
    expect(orders.text).toContain('id="admin-orders"')
  })
})
