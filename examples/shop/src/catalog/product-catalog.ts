import { NotFoundError, type Page, type Paginator, token } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import type { ShopAccessControl } from '../access/index.js'
import type { ShopPrincipal } from '../accounts/index.js'
import type { CatalogDb, ProductsTable } from './catalog-db.js'
import { searchName } from './search-name.js'

/** A product as the API shows it. */
export interface Product {
  readonly id: number
  readonly name: string
  readonly description: string
  readonly priceCents: number
  /** Units on hand. */
  readonly stock: number
}

/** What `GET /products` asks for. */
export interface ProductQuery {
  readonly after?: string
  readonly limit: number
  /** A substring of the name, case folded as `searchName` folds it. */
  readonly q?: string
}

function toProduct(row: Pick<ProductsTable, (typeof PRODUCT_COLUMNS)[number]>): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    priceCents: row.price_cents,
    stock: row.stock,
  }
}

// LIKE treats % and _ as wildcards; '!' escapes them (a backslash would need per-engine quoting).
function containsPattern(text: string): string {
  return `%${searchName(text).replace(/[!%_]/g, (char) => `!${char}`)}%`
}

const PRODUCT_COLUMNS = ['id', 'name', 'description', 'price_cents', 'stock'] as const

/**
 * Reads the catalog through the shop's policy (`read` on `products`): a keyset-paginated listing
 * by name, with search, and single products. Each method takes the caller (`undefined` for a
 * visitor): lists are filtered by the rule in SQL, single products checked against it.
 */
export class ProductCatalog {
  readonly #db: Kysely<CatalogDb>
  readonly #paginator: Paginator
  readonly #access: ShopAccessControl

  constructor(db: Kysely<CatalogDb>, paginator: Paginator, access: ShopAccessControl) {
    this.#db = db
    this.#paginator = paginator
    this.#access = access
  }

  #select(principal: ShopPrincipal | undefined) {
    return this.#access.filter(
      this.#db.selectFrom('products').select(PRODUCT_COLUMNS),
      principal,
      'read',
      'products',
    )
  }

  /** One page of products by name (then id); `nextCursor` continues it. */
  async list(principal: ShopPrincipal | undefined, query: ProductQuery): Promise<Page<Product>> {
    let select = this.#select(principal)
    if (query.q !== undefined && query.q !== '') {
      select = select.where(
        sql<boolean>`${sql.ref('search_name')} like ${containsPattern(query.q)} escape '!'`,
      )
    }
    const page = await this.#paginator.paginate(select, {
      orderBy: ['name'],
      after: query.after ?? null,
      limit: query.limit,
    })
    return { items: page.items.map(toProduct), nextCursor: page.nextCursor }
  }

  /**
   * Whether the caller may see a product with this id; the cart uses it to refuse ids the
   * catalog does not show.
   */
  async exists(principal: ShopPrincipal | undefined, id: number): Promise<boolean> {
    const row = await this.#select(principal).where('id', '=', id).executeTakeFirst()
    return row !== undefined
  }

  /** The products with these ids that the caller may see, by id; one query. */
  async findMany(
    principal: ShopPrincipal | undefined,
    ids: readonly number[],
  ): Promise<Map<number, Product>> {
    if (ids.length === 0) return new Map()
    const rows = await this.#select(principal)
      .where('id', 'in', [...ids])
      .execute()
    return new Map(rows.map((row) => [Number(row.id), toProduct(row)]))
  }

  /** One product; a 404 problem when there is none with this id, or the caller may not see it. */
  async get(principal: ShopPrincipal | undefined, id: number): Promise<Product> {
    const row = await this.#db
      .selectFrom('products')
      .select(PRODUCT_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row) throw new NotFoundError(`There is no product ${id}.`)
    await this.#access.authorize(principal, 'read', 'products', row)
    return toProduct(row)
  }
}

/** The shop's {@link ProductCatalog}. */
export const PRODUCT_CATALOG = token<ProductCatalog>('shop.catalog')
