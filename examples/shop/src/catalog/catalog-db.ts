/** The `products` table, as the catalog reads it. */
export interface ProductsTable {
  id: number
  name: string
  description: string
  price_cents: number
}

/** The tables of the catalog module. */
export interface CatalogDb {
  products: ProductsTable
}
