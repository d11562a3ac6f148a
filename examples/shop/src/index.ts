// The shop as a library: what a program (a benchmark, an embedding) needs to build and run it.
export { createShopApp, type ShopApp, type ShopAppOptions } from './app.js'
export { loadShopConfig, type ShopConfig } from './config.js'
export { buildShop, type Shop } from './server.js'
