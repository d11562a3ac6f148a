export {
  CartChangedError,
  CHECKOUT,
  Checkout,
  EmptyCartError,
  IdempotencyKeyReusedError,
  MAX_ORDER_TOTAL_CENTS,
  OrderTooLargeError,
  OutOfStockError,
  type PlacedOrder,
  type PlaceOrder,
} from './checkout.js'
export { type CheckoutChoice, checkoutCart } from './checkout-cart.js'
export {
  FULFILMENT,
  Fulfilment,
  OrderStatusError,
  type ShippingUpdate,
} from './fulfilment.js'
export { ORDER_COLUMNS, type Order, type OrderLine, type OrderRow, toOrder } from './order.js'
export { ORDER_HISTORY, OrderHistory, type OrderPageRequest } from './order-history.js'
export type { OrderListener } from './order-listener.js'
export {
  checkoutBody,
  type OrderRoutesOptions,
  orderIdSchema,
  orderRoutes,
} from './order-routes.js'
export type { OrderLinesTable, OrdersDb, OrdersTable, OrderStatus } from './orders-db.js'
export { ordersMigrations } from './orders-migrations.js'
export { type OrdersModuleOptions, ordersModule } from './orders-module.js'
