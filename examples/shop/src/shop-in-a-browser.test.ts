import { ANALYTICS } from '@mortar/analytics'
import { PASSWORD_HASHER, PasswordHasherBusyError } from '@mortar/auth'
import { resolveDatabase } from '@mortar/core'
import { launchTestBrowser, type TestBrowser } from '@mortar/core/testing'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { CatalogDb } from './catalog/index.js'
import { SHOPPER_PASSWORD } from './testing/shopper.js'
import { useTestShop } from './testing/test-shop.js'

/**
 * The shop as people use it, in headless Chromium: a visitor searches, opens a product, adds it
 * to the cart, signs up on the way to checkout, saves a card and orders; the confirmation is in
 * the development mailbox and the inbox shows one unread item; another shopper cannot see that
 * order; the admin sees the purchase and the search on the analytics dashboard, and ships it.
 */
describe('the shop in a real browser', () => {
  const shop = useTestShop()
  let chromium: TestBrowser
  let orderPath = ''
  let shopperEmail = ''

  beforeAll(async () => {
    chromium = await launchTestBrowser()
  }, 60_000)

  afterAll(async () => {
    await chromium?.close()
  })

  // What the shop's content security policy refused in any page: the pages must need nothing it
  // refuses (an inline script, a style, a beacon), or they break only in a browser.
  const refused: string[] = []

  async function visitor(): Promise<Page> {
    const context = await chromium.browser.newContext({ baseURL: shop().base })
    const page = await context.newPage()
    page.setDefaultTimeout(8_000)
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text())
    })
    return page
  }

  // Each step may wait 8 s (visitor) and a test takes several, with a sign-up's scrypt hash: far
  // past vitest's 5 s default when the machine is busy (the first test took 5.4 s at load 12).
  it('lets a visitor search, add to the cart, sign up, save a card and check out', async () => {
    const page = await visitor()
    await page.goto('/')
    await page.fill('input[name="q"]', 'lamp')
    await page.press('input[name="q"]', 'Enter')
    await page.waitForURL(/\/store\?q=lamp/)
    expect(await page.textContent('h1')).toContain('lamp')

    await page.click('li.card:has(button:text("Add to cart")) h2 a')
    await page.waitForURL(/\/store\/products\/\d+$/)
    const productName = (await page.textContent('h1')) ?? ''
    await page.selectOption('select[name="quantity"]', '2')
    await page.click('button:text("Add to cart")')
    await page.waitForURL(/\/store\/cart$/)
    expect(await page.textContent('#cart-count')).toBe('2')
    expect(await page.textContent('table')).toContain(productName)

    await page.click('#checkout-link')
    await page.waitForURL(/\/store\/login\?next=/)
    await page.click('main a:text("Sign up")')
    shopperEmail = `browser-${Date.now()}@example.com`
    await page.fill('input[name="email"]', shopperEmail)
    await page.fill('input[name="password"]', SHOPPER_PASSWORD)
    await page.click('button:text("Sign up")')
    await page.waitForURL(/\/store\/checkout$/)

    await page.click('main a:text("your account")')
    await page.fill('input[name="token"]', 'tok_visa_4242')
    await page.fill('input[name="last4"]', '4242')
    await page.click('button:text("Save card")')
    await page.waitForSelector('#payment-methods')
    // The notification settings, saved as they are: the form refused the field every form has.
    await page.click('button:text("Save notification settings")')
    expect(await page.textContent('.notice')).toContain('Notification settings saved')

    await page.goto('/store/checkout')
    await page.click('#place-order')
    await page.waitForURL(/\/store\/orders\/[0-9a-f-]{36}$/)
    orderPath = new URL(page.url()).pathname
    expect(await page.textContent('.notice')).toContain('Thank you')
    expect(await page.textContent('.status')).toBe('placed')
    expect(await page.textContent('table')).toContain(productName)
    expect(await page.$('#cart-count')).toBeNull()

    // The confirmation reaches the inbox through a job: one unread item in the header.
    await expect
      .poll(
        async () => {
          await page.goto('/store/orders')
          return (await page.$('#unread'))?.textContent() ?? null
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe('1')
    await page.click('a[href="/store/inbox"]')
    expect(await page.textContent('#inbox')).toContain(
      `Order ${orderPath.slice(-36, -28)} confirmed`,
    )
    // Leaving a tracked page sends its page-leave beacon, past the CSRF guard.
    await page.goto('/store')
    expect(refused).toEqual([])
  }, 60_000)

  it('shows a cart past the order-total cap its reason in money, and no checkout form', async () => {
    // The page offered a form that could only fail, whose notice then showed raw cents.
    await resolveDatabase<CatalogDb>(shop().app)
      .updateTable('products')
      .set({ stock: 5, price_cents: 2_000_000_000 })
      .where('id', '=', 777)
      .execute()
    const page = await visitor()
    await page.goto('/store/signup')
    await page.fill('input[name="email"]', `too-large-${Date.now()}@example.com`)
    await page.fill('input[name="password"]', SHOPPER_PASSWORD)
    await page.click('button:text("Sign up")')
    await page.waitForURL(/\/store$/)
    await page.goto('/store/products/777')
    await page.selectOption('select[name="quantity"]', '2')
    await page.click('button:text("Add to cart")')
    await page.waitForURL(/\/store\/cart$/)
    await page.click('#checkout-link')
    await page.waitForURL(/\/store\/checkout$/)
    expect(await page.textContent('#too-large')).toContain(
      'This cart totals $40,000,000.00, more than one order may ($21,474,836.47)',
    )
    expect(await page.$('#place-order')).toBeNull()
    expect(await page.textContent('main')).not.toContain('4000000000')
  }, 60_000)

  it('keeps the login form, filled in, with the reason when the password hasher is busy', async () => {
    const hasher = shop().app.resolve(PASSWORD_HASHER)
    const busy = vi.spyOn(hasher, 'verifyOrDummy').mockRejectedValue(new PasswordHasherBusyError())
    try {
      const page = await visitor()
      await page.goto('/store/login')
      await page.fill('input[name="email"]', 'busy@example.com')
      await page.fill('input[name="password"]', SHOPPER_PASSWORD)
      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.request().method() === 'POST'),
        page.click('button:text("Log in")'),
      ])
      expect(answer.status()).toBe(503)
      expect(await page.textContent('[role="alert"]')).toContain('try again in a second')
      expect(await page.inputValue('input[name="email"]')).toBe('busy@example.com')
      expect(refused).toEqual([])
    } finally {
      busy.mockRestore()
    }
  }, 60_000)

  it('does not show the first shopper’s order to a second one', async () => {
    const page = await visitor()
    await page.goto('/store/signup')
    await page.fill('input[name="email"]', `second-${Date.now()}@example.com`)
    await page.fill('input[name="password"]', SHOPPER_PASSWORD)
    await page.click('button:text("Sign up")')
    await page.waitForURL(/\/store$/)
    const response = await page.goto(orderPath)
    expect(response?.status()).toBe(404)
    expect(await page.textContent('main')).not.toContain(orderPath.slice(-36, -28))
    await page.goto('/store/orders')
    expect(await page.textContent('main')).toContain('No order yet')
  }, 60_000)

  it('shows the admin the confirmation mail, the purchase and the search, and lets them ship', async () => {
    const page = await visitor()
    const config = shop().app.config
    await page.goto('/admin/orders')
    await page.waitForURL(/\/store\/login\?next=/)
    await page.fill('input[name="email"]', config.adminEmail)
    await page.fill('input[name="password"]', config.adminPassword.reveal())
    await page.click('button:text("Log in")')
    await page.waitForURL(/\/admin\/orders$/)

    await page.goto('/admin/mailbox')
    const mail = page.locator('tr', { hasText: shopperEmail })
    expect(await mail.textContent()).toContain(
      `Your order ${orderPath.slice(-36, -28)} is confirmed`,
    )

    await shop().app.resolve(ANALYTICS).flush({ timeoutMs: 5_000 })
    // The analytics script's beacons got past the CSRF guard: browsers send Sec-Fetch-Site
    // (same-origin) with them, so the collector needs no exemption.
    const leaves = await shop()
      .app.resolve(ANALYTICS)
      .series('$page_leave', {
        from: new Date(Date.now() - 86_400_000),
        to: new Date(Date.now() + 86_400_000),
      })
    expect(leaves.reduce((sum, point) => sum + point.count, 0)).toBeGreaterThan(0)
    await page.goto('/admin/analytics')
    expect(await page.textContent('[data-testid="series-total-order_completed"]')).toBe('1')
    expect(await page.textContent('[data-testid="top-product_searched-query"]')).toContain('lamp')
    // The shopper's pages were seen, and left: engaged time has rows.
    expect(await page.textContent('[data-testid="dwell"]')).toContain('/store/products/')

    await page.goto('/admin/orders')
    const orderId = orderPath.slice(-36)
    await page.click(`a[href="/admin/orders/${orderId}"]`)
    await page.fill('input[name="trackingCode"]', 'TRACK-42')
    await page.click('#advance-order')
    await page.waitForSelector('.notice')
    expect(await page.textContent('.status')).toBe('shipped')
    expect(await page.textContent('main')).toContain('TRACK-42')
    expect(refused).toEqual([])
  }, 60_000)
})
