import 'reflect-metadata'
import { type App, isDevelopment } from '@mortar/core'
import { mortarFastify, mountFetch } from '@mortar/core/fastify'
import { ANALYTICS } from '@mortar/analytics'
import { type DevMailbox, devMailboxPage, INBOX, inboxHandler } from '@mortar/notify'
import Fastify, { type FastifyInstance } from 'fastify'
import { accountRoutes, currentPrincipal } from './accounts/index.js'
import { type AdminLink, adminGuard, adminPages } from './admin/index.js'
import { createShopApp, type ShopAppOptions } from './app.js'
import { cartRoutes } from './cart/index.js'
import { catalogRoutes, PRODUCT_CATALOG } from './catalog/index.js'
import type { ShopConfig } from './config.js'
import { healthRoutes } from './health/health-routes.js'
import { orderRoutes } from './orders/index.js'
import { paymentRoutes } from './payments/index.js'
import { SMS_STUB_PREFIX, SmsOutbox, servesSmsStub, smsStubRoutes } from './sms-stub/index.js'
import {
  notificationPreferencesSection,
  htmlErrorPages,
  keepOutOfCaches,
  setSecurityHeaders,
  storefrontRoutes,
  unsafeHtml,
} from './storefront/index.js'
import { trackCartAdd } from './tracking/index.js'

/** The shop: a Mortar app and the Fastify server in front of it. */
export interface Shop {
  readonly app: App<ShopConfig>
  readonly server: FastifyInstance
  /** What the development SMS stand-in took, when the shop serves it (no `SMS_URL`). */
  readonly smsOutbox: SmsOutbox | undefined
  /** The development mailbox, which takes the shop's mail when `SMTP_URL` is unset. */
  readonly mailbox: DevMailbox
}

/**
 * Builds the shop, migrates its database and starts the app without listening, so tests can
 * listen on any port.
 */
export async function buildShop(config: ShopConfig, options: ShopAppOptions = {}): Promise<Shop> {
  const { app, sessions, mailbox } = createShopApp(config, options)
  await app.migrate()
  await app.start()
  const session = sessions.current
  const catalog = app.resolve(PRODUCT_CATALOG)
  const productExists = (productId: number) => catalog.exists(currentPrincipal(), productId)
  const server = Fastify()
  // First: the plugin refuses hooks and routes added before it (their work would run uncounted).
  await server.register(mortarFastify, { app })
  // Before any route: every answer, errors and mounted handlers included.
  setSecurityHeaders(server)
  keepOutOfCaches(server)
  // The JSON API.
  await server.register(healthRoutes)
  await server.register(accountRoutes, { session })
  await server.register(catalogRoutes)
  await server.register(cartRoutes, { session, productExists })
  await server.register(paymentRoutes, { session })
  await server.register(orderRoutes, { session })
  // The in-app inbox as JSON, with a live stream (GET /inbox/stream), for the logged-in user.
  await mountFetch(server, '/inbox', inboxHandler({ recipient: () => currentPrincipal()?.id }))
  // The analytics page script and the heartbeats it sends (engaged time per page).
  const analytics = app.resolve(ANALYTICS)
  await mountFetch(server, '/analytics', analytics.collector())
  // "Customers who bought this also bought", from the rollups, in the catalog's order of rank.
  const alsoBought = async (productId: number, userId: string | undefined) => {
    const ranked = await analytics.alsoBought(String(productId), {
      limit: 4,
      ...(userId === undefined ? {} : { excludeBoughtBy: userId }),
    })
    const found = await catalog.findMany(
      currentPrincipal(),
      ranked.map((entry) => Number(entry.item)),
    )
    return ranked.flatMap((entry) => found.get(Number(entry.item)) ?? [])
  }
  // The storefront and the admin pages: HTML for people.
  const unreadCount = async (userId: string) => (await app.resolve(INBOX).counts(userId)).unread
  await server.register(storefrontRoutes, {
    prefix: '/store',
    session,
    productExists,
    unreadCount,
    accountSections: [notificationPreferencesSection],
    alsoBought,
    onAdded: trackCartAdd,
    // The page's script is analytics' own: its tag, made here, escapes its attributes.
    pageView: () => unsafeHtml(analytics.heartbeatTag(analytics.page(), '/analytics')),
  })
  const links: AdminLink[] = [{ href: '/admin/analytics', label: 'Analytics' }]
  // The pages other packages serve, in a scope of their own whose errors (a customer refused by
  // the guard) are HTML pages like the shop's.
  const pageOptions = { session, unreadCount }
  const mounted = async (pages: FastifyInstance) => {
    htmlErrorPages(pages, pageOptions)
    await mountFetch(
      pages,
      '/admin/analytics',
      analytics.dashboard({
        guard: adminGuard,
        title: 'Shop analytics',
        series: ['product_viewed', 'cart_added', 'order_completed'],
        top: [
          { event: 'product_searched', key: 'query' },
          { event: 'product_viewed', key: 'productId' },
        ],
        funnel: {
          steps: [
            { event: 'product_viewed' },
            { event: 'cart_added' },
            { event: 'order_completed' },
          ],
          windowMs: 86_400_000,
        },
      }),
    )
    if (config.smtpUrl === undefined && isDevelopment()) {
      // What the shop mailed, for admins; only in development, where mail goes to the mailbox.
      await mountFetch(pages, '/admin/mailbox', devMailboxPage(mailbox, { guard: adminGuard }))
      links.push({ href: '/admin/mailbox', label: 'Development mailbox' })
    }
  }
  await server.register(mounted)
  const smsOutbox = servesSmsStub(config) ? new SmsOutbox() : undefined
  await server.register(adminPages, {
    prefix: '/admin',
    ...pageOptions,
    links,
    smsOutbox,
  })
  if (smsOutbox !== undefined) {
    await server.register(smsStubRoutes, {
      prefix: SMS_STUB_PREFIX,
      outbox: smsOutbox,
      accountSid: config.smsAccountSid,
      authToken: config.smsAuthToken.reveal(),
    })
  }
  server.get('/', (_request, reply) => reply.redirect('/store'))
  // The server closes first so no request runs against a stopped app.
  server.addHook('onClose', async () => {
    await app.stop()
  })
  return { app, server, smsOutbox, mailbox }
}
