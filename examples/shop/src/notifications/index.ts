export {
  OPTIONAL_CATEGORIES,
  OrderConfirmed,
  OrderStatusChanged,
  SHOP_CATEGORIES,
} from './order-notifications.js'
export { ORDER_NOTIFIER, OrderNotifier, recipientOf } from './order-notifier.js'
export { type ShopNotificationsOptions, shopNotificationsModules } from './notifications-module.js'
