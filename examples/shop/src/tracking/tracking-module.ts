import { ANALYTICS, analyticsModule } from '@mortar/analytics'
import { defineModule, type Module, type Secret } from '@mortar/core'
import { shopEvents } from './shop-events.js'
import { PURCHASE_TRACKER, PurchaseTracker } from './shop-tracking.js'
import { shopIdentity } from './visitor-cookie.js'
import { VISITOR_TAGS, VisitorTags } from './visitor-tags.js'

/** Options of {@link shopTrackingModules}. */
export interface ShopTrackingOptions {
  /** The shop's secret (`SESSION_PASSWORD`): keys the account tag of linked visitor cookies. */
  readonly secret: Secret<string>
}

/**
 * The shop's analytics: `@mortar/analytics` over the shop's events (in the app's database,
 * rolled up every minute by core's schedules; the visitor is the signed-in user, else the
 * visitor cookie of {@link shopIdentity}) and the {@link PurchaseTracker} that the orders
 * module calls in the checkout's transaction.
 */
export function shopTrackingModules(options: ShopTrackingOptions): Module[] {
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
        binder.bind(VISITOR_TAGS, { useValue: new VisitorTags(options.secret) })
        binder.bind(PURCHASE_TRACKER, {
          inject: [ANALYTICS],
          useFactory: (analytics) => new PurchaseTracker(analytics),
        })
      },
    }),
  ]
}
