export type { CatalogDb, ProductsTable } from './catalog-db.js'
export { catalogMigrations } from './catalog-migrations.js'
export { type CatalogModuleOptions, catalogModule } from './catalog-module.js'
export { catalogRoutes } from './catalog-routes.js'
export {
  PRODUCT_CATALOG,
  type Product,
  ProductCatalog,
  type ProductQuery,
} from './product-catalog.js'
export { searchName } from './search-name.js'
export { generateProducts, type SeedProductsOptions, seedProducts } from './seed-products.js'
