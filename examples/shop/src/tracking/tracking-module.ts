import { ANALYTICS, analyticsModule } from '@mortar/analytics'
import { defineModule, type Module, VAULT } from '@mortar/core'
import { shopEvents } from './shop-events.js'
import { PURCHASE_TRACKER, PurchaseTracker } from './shop-tracking.js'
import { shopIdentity } from './visitor-cookie.js'
import { VISITOR_TAGS, VisitorTags } from './visitor-tags.js'

/**
 * The shop's analytics: `@mortar/analytics` over the shop's events (in the app's database,
 * rolled up every minute by core's schedules; the visitor is the signed-in user, else the
 * visitor cookie of {@link shopIdentity}) and the {@link PurchaseTracker} that the orders
 * module calls in the checkout's transaction. Linked visitor cookies name their account by a
 * digest of the app's Vault (`VAULT`, bound by `paymentsModule`): without one the app does not
 * start, and the error names the missing token.
 */
export function shopTrackingModules(): Module[] {
  return [
    analyticsModule({
      events: shopEvents,
      identity: shopIdentity,
      counts: { product_searched: ['query'], product_viewed: ['productId'] },
      recommendations: {
        viewed: { event: 'product_viewed', item: 'productId' },
        bought: { event: 'order_completed', items: 'productIds' },
      },
    }),
    defineModule({
      name: 'shop.tracking',
      register(binder) {
        binder.bind(VISITOR_TAGS, {
          inject: [VAULT],
          useFactory: (vault) => new VisitorTags(vault),
        })
        binder.bind(PURCHASE_TRACKER, {
          inject: [ANALYTICS],
          useFactory: (analytics) => new PurchaseTracker(analytics),
        })
      },
    }),
  ]
}
