import { defineEvents } from '@mortar/analytics'
import { z } from 'zod'

/** What the shop tracks, checked when each batch is written. Product ids are strings, as items are. */
export const shopEvents = defineEvents({
  product_searched: z.object({ query: z.string().min(1).max(100) }),
  product_viewed: z.object({ productId: z.string().max(20) }),
  cart_added: z.object({ productId: z.string().max(20), quantity: z.int().min(1).max(99) }),
  order_completed: z.object({
    orderId: z.uuid(),
    productIds: z.array(z.string().max(20)).min(1).max(50),
    total: z.int().min(0),
  }),
})

// Types ANALYTICS, track() and every query by the shop's catalogue.
declare module '@mortar/analytics' {
  interface AnalyticsTypes {
    events: typeof shopEvents
  }
}
