import { resolveDatabase } from '@mortar/core'
import { PREFERENCES } from '@mortar/notify'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import type { CatalogDb } from '../catalog/index.js'
import { formFields } from '../testing/html-form.js'
import { logIn, type Shopper, signUpShopper } from '../testing/shopper.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`shipping updates on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })

    beforeAll(async () => {
      await resolveDatabase<CatalogDb>(shop().app)
        .updateTable('products')
        .set({ stock: 100 })
        .where('id', 'in', [11, 12])
        .execute()
    })

    /**
     * Sends the account page's form to `action` as a browser does: with every field the page
     * rendered (its `_csrf` too), `fields` typed or ticked over them.
     */
    async function submitAccountForm(
      shopper: Shopper,
      action: string,
      fields: Record<string, string | undefined>,
    ) {
      const page = await shopper.jar.request('GET', '/store/account')
      return shopper.jar.request('POST', action, formFields(page.text, action, fields))
    }

    async function order(shopper: Shopper, productId: number): Promise<string> {
      await shopper.jar.request('POST', '/cart', { productId })
      const placed = await shopper.jar.request('POST', '/orders', {
        paymentMethodId: shopper.paymentMethodId,
      })
      expect(placed.status).toBe(201)
      return placed.json.id as string
    }

    async function ship(orderId: string): Promise<void> {
      const config = shop().app.config
      const admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
      const shipped = await admin.request('POST', `/admin/orders/${orderId}/status`, {
        status: 'shipped',
        trackingCode: 'TRACK-7',
      })
      expect(shipped.json).toMatchObject({ status: 'shipped' })
    }

    it('tells the buyer by mail, text message (number given, texts agreed) and inbox', async () => {
      const ada = await signUpShopper(shop().base, 'ada')
      const saved = await submitAccountForm(ada, '/store/account/phone', {
        phone: '+1 555 0100 42',
        smsOptIn: 'on',
      })
      expect(saved.status).toBe(303)
      const orderId = await order(ada, 11)
      await ship(orderId)
      const headline = `Order ${orderId.slice(0, 8)} is on its way (tracking TRACK-7)`
      const mail = await shop().mailbox.waitFor((m) => m.to === ada.email && m.subject === headline)
      expect(mail.text).toContain(headline)
      const sms = await vi.waitFor(() => {
        const found = shop()
          .smsOutbox?.list()
          .find((m) => m.to === '+1555010042')
        if (found === undefined) throw new Error('no text message yet')
        return found
      })
      expect(sms.body).toBe(`Mortar Shop: ${headline}.`)
      // Admins read what the stand-in took; customers may not.
      const config = shop().app.config
      const admin = await logIn(shop().base, config.adminEmail, config.adminPassword.reveal())
      expect((await admin.request('GET', '/admin/sms')).text).toContain('+1555010042')
      expect((await ada.jar.request('GET', '/admin/sms')).status).toBe(403)
      await vi.waitFor(async () => {
        const inbox = await ada.jar.request('GET', '/inbox')
        expect((inbox.json.items as { title: string }[]).map((item) => item.title)).toContain(
          headline,
        )
      })
    })

    // The form's channels were saved one by one: a failure on the second left the first saved,
    // settings the customer never chose, shown as a failure they would think saved nothing.
    it('saves the notification settings whole or not at all', async () => {
      const cyd = await signUpShopper(shop().base, 'cyd')
      const preferences = shop().app.resolve(PREFERENCES)
      const set = preferences.set.bind(preferences)
      let writes = 0
      const failing = vi.spyOn(preferences, 'set').mockImplementation(async (...args) => {
        writes += 1
        if (writes === 2) throw new Error('the database went away mid-form')
        return set(...args)
      })
      try {
        const failed = await submitAccountForm(cyd, '/store/account/notifications', {
          'shipping.mail': undefined,
          'shipping.sms': undefined,
          'shipping.inbox': undefined,
        })
        expect(failed.status).toBe(500)
        expect(writes).toBe(2)
      } finally {
        failing.mockRestore()
      }
      expect(await preferences.list(cyd.userId)).toEqual([])

      const saved = await submitAccountForm(cyd, '/store/account/notifications', {
        'shipping.mail': undefined,
        'shipping.sms': undefined,
        'shipping.inbox': 'on',
      })
      expect(saved.status).toBe(303)
      const stored = await preferences.list(cyd.userId)
      expect(stored.map((entry) => `${entry.channel}:${entry.enabled}`).sort()).toEqual([
        'inbox:true',
        'mail:false',
        'sms:false',
      ])
    })

    it('sends no text without agreement, and honours a channel turned off', async () => {
      const bob = await signUpShopper(shop().base, 'bob')
      await submitAccountForm(bob, '/store/account/phone', { phone: '+15550100777' })
      // Shipping updates: inbox only (the mail box unticked). Sent as the page's form, with its
      // _csrf field: the settings refused every form a browser sent (a 422 for that field).
      const settings = await submitAccountForm(bob, '/store/account/notifications', {
        'shipping.mail': undefined,
        'shipping.sms': undefined,
        'shipping.inbox': 'on',
      })
      expect(settings.status).toBe(303)
      const orderId = await order(bob, 12)
      await ship(orderId)
      const headline = `Order ${orderId.slice(0, 8)} is on its way (tracking TRACK-7)`
      await vi.waitFor(async () => {
        const inbox = await bob.jar.request('GET', '/inbox')
        expect((inbox.json.items as { title: string }[]).map((item) => item.title)).toContain(
          headline,
        )
      })
      // The receipt is required, so it came by mail; the shipping mail was held back.
      await shop().mailbox.waitFor((m) => m.to === bob.email)
      const deliveries = await vi.waitFor(async () => {
        const rows = await resolveDatabase<{
          mortar_delivery: { recipient_id: string; channel: string; type: string; status: string }
        }>(shop().app)
          .selectFrom('mortar_delivery')
          .select(['channel', 'type', 'status'])
          .where('recipient_id', '=', bob.userId)
          .where('type', '=', 'order.shipped')
          .execute()
        expect(rows.every((row) => row.status === 'sent' || row.status === 'suppressed')).toBe(true)
        return rows
      })
      expect(deliveries.map((row) => `${row.channel}:${row.status}`).sort()).toEqual([
        'inbox:sent',
        'mail:suppressed',
      ])
      expect(
        shop()
          .mailbox.messages(bob.email)
          .map((m) => m.subject),
      ).not.toContain(headline)
      expect(
        shop()
          .smsOutbox?.list()
          .some((m) => m.to === '+15550100777'),
      ).toBe(false)
    })
  })
}
