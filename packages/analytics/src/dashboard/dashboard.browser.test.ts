import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onRequestStart, type Principal } from '@mortar/core'
import { toNodeHandler, withMortar } from '@mortar/core/node'
import { launchTestBrowser, type TestBrowser, testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  product_searched: z.object({ query: z.string() }),
  product_viewed: z.object({ productId: z.string() }),
  order_completed: z.object({ orderId: z.string(), productIds: z.array(z.string()) }),
})

const NOW = Date.parse('2026-03-05T12:00:00Z')

// One browser for every engine: launching it costs more than a page load.
let browser: TestBrowser
beforeAll(async () => {
  browser = await launchTestBrowser()
}, 60_000)
afterAll(() => browser?.close())

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `the analytics dashboard in Chromium, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      let server: Server
      let base: string

      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          counts: { product_searched: ['query'] },
          recommendations: { bought: { event: 'order_completed', items: 'productIds' } },
        })
        subject.clock.set(NOW)
        const { analytics, app } = subject
        const at = (hoursAgo: number) => NOW - hoursAgo * 3_600_000
        const searches: [string, string, number][] = [
          ['u1', 'tea', 1],
          ['u2', 'tea', 30],
          ['u3', '<b>mugs</b>', 50],
          ['u1', 'tea', 80],
        ]
        for (const [userId, query, hoursAgo] of searches) {
          analytics.track('product_searched', { query }, { userId, timestamp: at(hoursAgo) })
        }
        for (const [userId, productIds] of [
          ['u1', ['p1', 'p2']],
          ['u2', ['p1', 'p2']],
          ['u3', ['p2', 'p3']],
        ] as const) {
          analytics.track('product_viewed', { productId: 'p1' }, { userId, timestamp: at(3) })
          analytics.track(
            'order_completed',
            { orderId: `o-${userId}`, productIds: [...productIds] },
            { userId, timestamp: at(2) },
          )
        }
        await analytics.flush()
        await analytics.rollup()

        // A stand-in for auth: the header makes the request's principal an admin.
        onRequestStart(app, (context) => {
          if (context.http?.header('x-test-admin') === 'yes') {
            context.set('principal', { id: 'admin', admin: true } as unknown as Principal)
          }
        })
        const dashboard = analytics.dashboard({
          guard: (context) =>
            (context.get('principal') as { admin?: boolean } | undefined)?.admin === true,
          title: 'Shop analytics',
          series: ['product_searched'],
          top: [{ event: 'product_searched', key: 'query' }],
          funnel: {
            steps: [{ event: 'product_viewed' }, { event: 'order_completed' }],
            windowMs: 86_400_000,
          },
        })
        server = createServer(
          withMortar(app, toNodeHandler(dashboard, { prefix: '/admin/analytics' })),
        )
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/analytics`
      }, 60_000)

      afterAll(async () => {
        // The browser lives on for the next engine: end its keep-alive connections here.
        server?.closeAllConnections()
        await new Promise((resolve) => server?.close(resolve))
        await subject?.close()
      })

      it('refuses a visitor the guard does not admit', async () => {
        const page = await browser.newPage()
        const response = await page.goto(`${base}/`)
        expect(response?.status()).toBe(403)
        expect(await page.textContent('body')).toContain('not open to this request')
        await page.close()
      })

      it('runs its own scripts only, and lets no other site frame it', async () => {
        const context = await browser.browser.newContext({
          extraHTTPHeaders: { 'x-test-admin': 'yes' },
        })
        const page = await context.newPage()
        const refused: string[] = []
        page.on('console', (message) => {
          if (/Content Security Policy/.test(message.text())) refused.push(message.text())
        })
        const response = await page.goto(`${base}/?days=7`)
        expect(response?.headers()['content-security-policy']).toMatch(/frame-ancestors 'self'/)
        expect(response?.headers()['x-frame-options']).toBe('SAMEORIGIN')
        await page.waitForSelector('canvas#series-product_searched[data-rendered=true]')
        expect(refused).toEqual([])
        // What a value rendered unescaped would be: an inline script the page did not ship.
        const ran = await page.evaluate(`(() => {
          const script = document.createElement('script')
          script.textContent = 'document.body.dataset.injected = "ran"'
          document.body.append(script)
          return document.body.dataset.injected ?? 'refused'
        })()`)
        expect(ran).toBe('refused')
        await context.close()
      })

      it('shows the numbers of the last days and draws the chart', async () => {
        const context = await browser.browser.newContext({
          extraHTTPHeaders: { 'x-test-admin': 'yes' },
        })
        const page = await context.newPage()
        await page.goto(`${base}/?days=7`)
        expect(await page.textContent('h1')).toBe('Shop analytics')
        expect(await page.textContent('[data-testid=visitors]')).toBe('3')
        expect(await page.textContent('[data-testid=series-total-product_searched]')).toBe('4')
        const topRows = await page.$$eval('[data-testid=top-product_searched-query] tr', (rows) =>
          rows
            .slice(1)
            .map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)),
        )
        // The search text is shown as text, never as markup.
        expect(topRows).toEqual([
          ['tea', '3'],
          ['<b>mugs</b>', '1'],
        ])
        const funnel = await page.$$eval('[data-testid=funnel] td.n', (cells) =>
          cells.map((cell) => cell.textContent),
        )
        expect(funnel).toEqual(['3', '100.0%', '3', '100.0%'])
        await page.waitForSelector('canvas#series-product_searched[data-rendered=true]')
        expect(await page.evaluate(() => typeof (globalThis as { Chart?: unknown }).Chart)).toBe(
          'function',
        )

        await page.fill('[data-testid=also-bought] input[name=item]', 'p1')
        await Promise.all([
          page.waitForURL(/item=p1/),
          page.click('[data-testid=also-bought] button'),
        ])
        const bought = await page.$$eval('[data-testid=also-bought] tr', (rows) =>
          rows
            .slice(1)
            .map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)),
        )
        expect(bought).toEqual([['p2', '2', (2 / Math.sqrt(2 * 3)).toFixed(3)]])
        const oneDay = await page.goto(`${base}/?days=1`)
        expect(oneDay?.status()).toBe(200)
        expect(await page.textContent('[data-testid=series-total-product_searched]')).toBe('1')
        await context.close()
      })
    },
  )
}
