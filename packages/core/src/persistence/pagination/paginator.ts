import type { SelectQueryBuilder } from 'kysely'
import { globalToken } from '../../di/token.js'
import { type Page, type PageRequest, paginateWithKey } from './paginate.js'
import { type PaginationKeys, toKeyRing } from './pagination-key.js'

/** Options of a {@link Paginator}. */
export interface PaginatorOptions {
  /**
   * The HMAC key that signs cursors, at least 32 bytes, checked at construction; or a list to
   * rotate keys without breaking open listings: the first signs, every one is accepted.
   */
  readonly key: PaginationKeys
}

/**
 * A keyset paginator that holds the cursor-signing key, so handlers page through queries without
 * handling the secret. Register one per app (the key is checked when it is built, at start-up)
 * and inject it with {@link PAGINATOR}.
 *
 * @example
 * ```ts
 * import { Paginator } from '@mortar/core'
 *
 * const paginator = new Paginator({ key: config.paginationKey })
 * const page = await paginator.paginate(db.selectFrom('products').select(['id', 'name']), {
 *   orderBy: ['name'],
 *   after: request.query.after,
 *   limit: 20,
 * })
 * ```
 */
export class Paginator {
  readonly #keys: readonly Uint8Array[]

  constructor(options: PaginatorOptions) {
    this.#keys = toKeyRing(options.key)
  }

  /** One page of `query` after the cursor; see {@link paginate} for the rules. */
  paginate<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
    request: PageRequest<DB, TB, O>,
  ): Promise<Page<O>> {
    return paginateWithKey(query, request, this.#keys)
  }

  toString(): string {
    return 'Paginator { key: [secret] }'
  }

  toJSON(): string {
    return this.toString()
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString()
  }
}

/**
 * The injection token of the app's {@link Paginator}.
 *
 * @example
 * ```ts
 * import { PAGINATOR } from '@mortar/core'
 *
 * const paginator = app.resolve(PAGINATOR)
 * ```
 */
export const PAGINATOR = globalToken<Paginator>('mortar.paginator')
