import type { Kysely } from 'kysely'
import type { CatalogDb, ProductsTable } from './catalog-db.js'
import { searchName } from './search-name.js'

/** Options of {@link seedProducts}. */
export interface SeedProductsOptions {
  /** How many products (default 10,000). */
  readonly count?: number
  /** The PRNG seed: the same seed gives the same catalog on every engine (default 42). */
  readonly seed?: number
  /** Rows per INSERT (default 500, under every engine's parameter limit). */
  readonly batchSize?: number
}

const ADJECTIVES = [
  'Sturdy',
  'Cosy',
  'Sleek',
  'Rustic',
  'Bright',
  'Compact',
  'Classic',
  'Bold',
  'Quiet',
  'Handmade',
]
const MATERIALS = [
  'Oak',
  'Linen',
  'Steel',
  'Wool',
  'Ceramic',
  'Cotton',
  'Walnut',
  'Glass',
  'Leather',
  'Bamboo',
]
const NOUNS = [
  'Chair',
  'Lamp',
  'Mug',
  'Blanket',
  'Table',
  'Shelf',
  'Vase',
  'Rug',
  'Teapot',
  'Stool',
  'Bowl',
  'Clock',
]

// mulberry32: a tiny seeded PRNG, so the catalog is the same on every run and engine.
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The products {@link seedProducts} inserts, computed without a database. */
export function generateProducts(count: number, seed: number): ProductsTable[] {
  const random = mulberry32(seed)
  // Stock draws from a stream of its own, so names and prices stay what they were before it.
  const randomStock = mulberry32(seed ^ 0x5eed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  return Array.from({ length: count }, (_, index) => {
    const name = `${pick(ADJECTIVES)} ${pick(MATERIALS)} ${pick(NOUNS)}`
    return {
      id: index + 1,
      name,
      search_name: searchName(name),
      description: `A ${name.toLowerCase()} from the Mortar demo catalog.`,
      price_cents: 199 + Math.floor(random() * 30_000),
      // One product in ten is sold out; the others have 1 to 40.
      stock: randomStock() < 0.1 ? 0 : 1 + Math.floor(randomStock() * 40),
    }
  })
}

/**
 * Fills an empty `products` table with a deterministic demo catalog, in batches; a table that
 * already has rows is left alone. Returns how many rows it inserted.
 */
export async function seedProducts(
  db: Kysely<CatalogDb>,
  options: SeedProductsOptions = {},
): Promise<number> {
  const existing = await db.selectFrom('products').select('id').limit(1).executeTakeFirst()
  if (existing) return 0
  const products = generateProducts(options.count ?? 10_000, options.seed ?? 42)
  const batchSize = options.batchSize ?? 500
  await db.transaction().execute(async (trx) => {
    for (let start = 0; start < products.length; start += batchSize) {
      await trx
        .insertInto('products')
        .values(products.slice(start, start + batchSize))
        .execute()
    }
  })
  return products.length
}
