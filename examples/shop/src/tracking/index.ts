export { shopEvents } from './shop-events.js'
export {
  PURCHASE_TRACKER,
  PurchaseTracker,
  identifyVisitor,
  trackCartAdd,
  trackProductView,
  trackSearch,
} from './shop-tracking.js'
export { shopTrackingModules } from './tracking-module.js'
export { forgetVisitor } from './visitor-cookie.js'
