export {
  addToCart,
  type Cart,
  CartFullError,
  type CartItem,
  CartQuantityError,
  type CartSessionData,
  cartItemSchema,
  cartSchema,
  cartSessionSchema,
  checkoutKeySchema,
  MAX_CART_LINES,
  MAX_PRODUCT_ID,
  MAX_QUANTITY,
  removeFromCart,
} from './cart.js'
export { type CartRoutesOptions, cartRoutes } from './cart-routes.js'
export {
  addToSessionCart,
  emptySessionCart,
  newCheckoutKey,
  type ProductExists,
  removeFromSessionCart,
  renewCartKey,
} from './cart-session.js'
