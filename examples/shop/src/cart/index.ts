export {
  addToCart,
  type Cart,
  CartFullError,
  type CartItem,
  CartQuantityError,
  type CartSessionData,
  CART_TTL_SECONDS,
  cartItemSchema,
  cartSchema,
  cartSessionSchema,
  checkoutKeySchema,
  MAX_CART_LINES,
  MAX_PRODUCT_ID,
  MAX_QUANTITY,
  removeFromCart,
  type StoredCart,
  storedCartSchema,
} from './cart.js'
export { cartModules } from './cart-module.js'
export { type PricedCart, type PricedLine, priceCart } from './cart-prices.js'
export { cartQuote, type QuotedLine } from './cart-quote.js'
export { type CartRoutesOptions, cartRoutes } from './cart-routes.js'
export {
  CARTS,
  Carts,
  type CartState,
  newCheckoutKey,
  type ProductExists,
} from './cart-store.js'
