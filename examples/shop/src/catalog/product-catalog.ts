import { NotFoundError, type Page, type Paginator, token } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import type { CatalogDb, ProductsTable } from './catalog-db.js'

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
  /** Case-insensitive substring of the name. */
  readonly q?: string
}

function toProduct(row: ProductsTable): Product {
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
  return `%${text.toLowerCase().replace(/[!%_]/g, (char) => `!${char}`)}%`
}

const PRODUCT_COLUMNS = ['id', 'name', 'description', 'price_cents', 'stock'] as const

/** Reads the catalog: a keyset-paginated listing by name, with search, and single products. */
export class ProductCatalog {
  readonly #db: Kysely<CatalogDb>
  readonly #paginator: Paginator

  constructor(db: Kysely<CatalogDb>, paginator: Paginator) {
    this.#db = db
    this.#paginator = paginator
  }

  /** One page of products by name (then id); `nextCursor` continues it. */
  async list(query: ProductQuery): Promise<Page<Product>> {
    let select = this.#db.selectFrom('products').select(PRODUCT_COLUMNS)
    if (query.q !== undefined && query.q !== '') {
      select = select.where(
        sql<boolean>`lower(${sql.ref('name')}) like ${containsPattern(query.q)} escape '!'`,
      )
    }
    const page = await this.#paginator.paginate(select, {
      orderBy: ['name'],
      after: query.after ?? null,
      limit: query.limit,
    })
    return { items: page.items.map(toProduct), nextCursor: page.nextCursor }
  }

  /** Whether a product exists; the cart can use it to refuse ids the catalog does not know. */
  async exists(id: number): Promise<boolean> {
    const row = await this.#db
      .selectFrom('products')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst()
    return row !== undefined
  }

  /** The products with these ids that exist, by id; one query. */
  async findMany(ids: readonly number[]): Promise<Map<number, Product>> {
    if (ids.length === 0) return new Map()
    const rows = await this.#db
      .selectFrom('products')
      .select(PRODUCT_COLUMNS)
      .where('id', 'in', [...ids])
      .execute()
    return new Map(rows.map((row) => [Number(row.id), toProduct(row)]))
  }

  /** One product; a 404 problem when there is none with this id. */
  async get(id: number): Promise<Product> {
    const row = await this.#db
      .selectFrom('products')
      .select(PRODUCT_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row) throw new NotFoundError(`There is no product ${id}.`)
    return toProduct(row)
  }
}

/** The shop's {@link ProductCatalog}. */
export const PRODUCT_CATALOG = token<ProductCatalog>('shop.catalog')
