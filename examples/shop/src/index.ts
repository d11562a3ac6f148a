// The shop as a library: what a program (a benchmark, an embedding) needs to build and run it.
export { ACCOUNTS } from './accounts/index.js'
export { createShopApp, type ShopApp, type ShopAppOptions } from './app.js'
export { PRODUCT_CATALOG } from './catalog/index.js'
export { loadShopConfig, type ShopConfig } from './config.js'
export { ORDER_NOTIFIER } from './notifications/index.js'
export { Checkout } from './orders/index.js'
export { PAYMENT_METHODS } from './payments/index.js'
export { buildShop, type Shop } from './server.js'
