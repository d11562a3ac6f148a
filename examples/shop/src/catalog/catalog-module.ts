import { randomBytes } from 'node:crypto'
import {
  databaseToken,
  defineModule,
  LOGGER,
  type Module,
  PAGINATOR,
  type PaginationKey,
  Paginator,
  resolveDatabase,
} from '@mortar/core'
import { SHOP_ACCESS } from '../access/index.js'
import type { CatalogDb } from './catalog-db.js'
import { catalogMigrations } from './catalog-migrations.js'
import { PRODUCT_CATALOG, ProductCatalog } from './product-catalog.js'
import { seedProducts } from './seed-products.js'

/** Options of {@link catalogModule}. */
export interface CatalogModuleOptions {
  /** Signs page cursors; without one, a random key per process (cursors die with it). */
  readonly paginationKey?: PaginationKey | undefined
  /** Products seeded into an empty table at start (default 10,000; 0 to skip). */
  readonly seedCount?: number
}

/** The catalog: the `products` table, its demo seed, the {@link ProductCatalog} and the paginator. */
export function catalogModule(options: CatalogModuleOptions = {}): Module {
  return defineModule({
    name: 'catalog',
    migrations: catalogMigrations,
    register(binder) {
      binder.bind(PAGINATOR, {
        inject: [LOGGER],
        useFactory: (logger) => {
          if (options.paginationKey !== undefined)
            return new Paginator({ key: options.paginationKey })
          logger.warn(
            'catalog: PAGINATION_KEY is unset; page cursors use a random key until restart',
          )
          return new Paginator({ key: randomBytes(32) })
        },
      })
      binder.bind(PRODUCT_CATALOG, {
        inject: [databaseToken<CatalogDb>(), PAGINATOR, SHOP_ACCESS],
        useFactory: (db, paginator, access) => new ProductCatalog(db, paginator, access),
      })
    },
    async onStart(app) {
      const count = options.seedCount ?? 10_000
      if (count === 0) return
      const inserted = await seedProducts(resolveDatabase<CatalogDb>(app), { count })
      if (inserted > 0) app.logger.info({ inserted }, 'catalog: seeded demo products')
    },
  })
}
