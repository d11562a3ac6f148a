/** The `products` table, as the catalog reads it. */
export interface ProductsTable {
  id: number
  name: string
  /** The name as the search compares it: `searchName(name)`, written with the name. */
  search_name: string
  description: string
  price_cents: number
  /** Units on hand; checkout takes from it and a CHECK keeps it at zero or more. */
  stock: number
}

/** The tables of the catalog module. */
export interface CatalogDb {
  products: ProductsTable
}
