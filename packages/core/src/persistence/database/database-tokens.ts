import type { Kysely } from 'kysely'
import { type Key, type Token, globalToken } from '../../di/token.js'
import type { Database } from './database.js'

/**
 * The app's {@link Database} service: engine, health, transactions, `kysely`. `createApp` binds
 * it when given `database` (or `DATABASE_URL` is set).
 *
 * @example
 * ```ts
 * import { DATABASE } from '@mortar/core'
 *
 * const { status } = await app.resolve(DATABASE).health()
 * ```
 */
export const DATABASE: Token<Database<unknown>> = globalToken<Database<unknown>>('mortar.database')

const KYSELY = globalToken<Kysely<unknown>>('mortar.kysely')

/**
 * The token of the app's transaction-aware `Kysely`, typed by your database interface. It is
 * one token whatever `DB` is: declare it once per app (`export const DB = databaseToken<ShopDb>()`)
 * and inject that. Inside a transaction the instance runs queries in it.
 *
 * @example
 * ```ts
 * import { databaseToken } from '@mortar/core'
 * import { inject, injectable } from 'tsyringe'
 * import type { Kysely } from 'kysely'
 *
 * interface ShopDb { product: { id: number; name: string } }
 * export const DB = databaseToken<ShopDb>()
 *
 * @injectable()
 * class ProductRepository {
 *   constructor(@inject(DB) private readonly db: Kysely<ShopDb>) {}
 *   list() { return this.db.selectFrom('product').selectAll().execute() }
 * }
 * ```
 */
export function databaseToken<DB>(): Token<Kysely<DB>> {
  return KYSELY as Token<Kysely<DB>>
}

/** Anything that resolves tokens: an app, a request scope, a request context. */
export interface Resolver {
  resolve<T>(key: Key<T>): T
}

/**
 * The app's transaction-aware `Kysely`, typed by your database interface.
 *
 * @example
 * ```ts
 * import { resolveDatabase } from '@mortar/core'
 *
 * const db = resolveDatabase<ShopDb>(app)
 * const products = await db.selectFrom('product').selectAll().execute()
 * ```
 */
export function resolveDatabase<DB>(resolver: Resolver): Kysely<DB> {
  return resolver.resolve(databaseToken<DB>())
}
