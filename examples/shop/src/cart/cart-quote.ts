import { createHash } from 'node:crypto'

/** A line as a quote sees it: which product, how many, at what unit price. */
export interface QuotedLine {
  readonly productId: number
  readonly quantity: number
  readonly unitPriceCents: number
}

/**
 * A digest of the lines and unit prices a checkout page showed. The page's form sends it back,
 * and the checkout refuses to place an order whose lines or prices differ: a cart changed in
 * another tab, or a price changed meanwhile, is shown again instead of charged unseen.
 */
export function cartQuote(lines: readonly QuotedLine[]): string {
  const text = [...lines]
    .sort((a, b) => a.productId - b.productId)
    .map((line) => `${line.productId}x${line.quantity}@${line.unitPriceCents}`)
    .join(',')
  return createHash('sha256').update(text).digest('base64url').slice(0, 22)
}
