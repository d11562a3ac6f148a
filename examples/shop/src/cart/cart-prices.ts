import type { ShopPrincipal } from '../accounts/index.js'
import type { Product, ProductCatalog } from '../catalog/index.js'
import type { CartItem } from './cart.js'
import { cartQuote } from './cart-quote.js'

/** A cart line with its product as the catalog shows it now. */
export interface PricedLine extends CartItem {
  readonly product: Product
}

/** A cart priced from the catalog, as the cart and checkout pages and `GET /cart` show it. */
export interface PricedCart {
  /** The lines whose product the shopper may buy, at today's prices. */
  readonly lines: readonly PricedLine[]
  /** The lines no longer sold to the shopper (gone, or hidden by the policy). */
  readonly unavailable: readonly CartItem[]
  /** What {@link PricedCart.lines} cost. */
  readonly totalCents: number
  /**
   * The {@link cartQuote} of the lines and prices, for the checkout to send back; undefined
   * when a line is no longer sold (that checkout is refused whatever it sends).
   */
  readonly quote: string | undefined
}

/**
 * Prices `cart` from the catalog as `principal` (undefined: a visitor) may read it: every view
 * of a cart, the quote a checkout sends and what the checkout charges come from this one
 * function, so the page and the charge cannot disagree.
 */
export async function priceCart(
  catalog: ProductCatalog,
  principal: ShopPrincipal | undefined,
  cart: readonly CartItem[],
): Promise<PricedCart> {
  const products = await catalog.findMany(
    principal,
    cart.map((line) => line.productId),
  )
  const lines: PricedLine[] = []
  const unavailable: CartItem[] = []
  for (const line of cart) {
    const product = products.get(line.productId)
    if (product === undefined) unavailable.push(line)
    else lines.push({ productId: line.productId, quantity: line.quantity, product })
  }
  return {
    lines,
    unavailable,
    totalCents: lines.reduce((sum, line) => sum + line.product.priceCents * line.quantity, 0),
    quote:
      unavailable.length > 0
        ? undefined
        : cartQuote(
            lines.map((line) => ({
              productId: line.productId,
              quantity: line.quantity,
              unitPriceCents: line.product.priceCents,
            })),
          ),
  }
}
