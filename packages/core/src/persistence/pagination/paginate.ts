import {
  type Expression,
  type RawBuilder,
  type SelectQueryBuilder,
  type SqlBool,
  type StringReference,
  sql,
} from 'kysely'
import { ValidationError } from '../../errors/http-errors.js'
import { decodeCursor, encodeCursor, fingerprint } from './cursor-codec.js'
import { type PaginationKeys, toKeyRing } from './pagination-key.js'

/** Which way a sort key runs. */
export type SortDirection = 'asc' | 'desc'

/**
 * The selected columns a listing may be sorted by: those whose type excludes `null` (a null has
 * no place in a `>` comparison, so nullable columns are refused at compile time).
 */
export type SortableColumn<O> = {
  [K in keyof O & string]: null extends O[K] ? never : undefined extends O[K] ? never : K
}[keyof O & string]

/**
 * One sort key: a selected column, ascending by default. `ref` names the expression behind the
 * column when the selection renames it (`p.name as title`) or a join makes it ambiguous, because
 * a `WHERE` clause cannot see select aliases.
 */
export type SortKey<DB, TB extends keyof DB, O> =
  | SortableColumn<O>
  | {
      readonly column: SortableColumn<O>
      readonly direction?: SortDirection
      readonly ref?: StringReference<DB, TB> | Expression<unknown>
    }

/** The `unique` option is required when the selection has no `id` to break ties with. */
export type UniqueKeyOption<O> =
  'id' extends SortableColumn<O>
    ? {
        /** A selected column unique per row, appended when `orderBy` lacks it. Defaults to `id`. */
        readonly unique?: SortableColumn<O>
      }
    : {
        /** A selected column unique per row, appended when `orderBy` lacks it. */
        readonly unique: SortableColumn<O>
      }

/** What {@link paginate} needs besides the key: the ordering, the cursor and the page size. */
export type PageRequest<DB, TB extends keyof DB, O> = {
  /** The sort keys, most significant first; the unique key is appended when missing. */
  readonly orderBy: readonly SortKey<DB, TB, O>[]
  /** The `nextCursor` of the previous page; absent or null for the first page (`''` is refused). */
  readonly after?: string | null
  /** Rows per page, a positive integer. */
  readonly limit: number
} & UniqueKeyOption<O>

/** Options of the {@link paginate} function: a {@link PageRequest} plus the signing key. */
export type PaginateOptions<DB, TB extends keyof DB, O> = PageRequest<DB, TB, O> & {
  /** The HMAC key that signs cursors, at least 32 bytes, or a list to rotate (the first signs). */
  readonly key: PaginationKeys
}

/** One page of a listing. */
export interface Page<T> {
  readonly items: T[]
  /** Pass it as `after` to get the next page; `null` on the last page. */
  readonly nextCursor: string | null
}

interface ResolvedKey {
  readonly column: string
  readonly direction: SortDirection
  readonly ref: Expression<unknown>
}

function resolveKeys(orderBy: readonly unknown[], unique: string): ResolvedKey[] {
  const keys = orderBy.map((entry): ResolvedKey => {
    const spec =
      typeof entry === 'string'
        ? { column: entry }
        : (entry as {
            column: string
            direction?: SortDirection
            ref?: string | Expression<unknown>
          })
    const direction = spec.direction ?? 'asc'
    if (direction !== 'asc' && direction !== 'desc') {
      throw new ValidationError(
        [
          {
            path: 'orderBy',
            message: `Unknown direction for '${spec.column}'.`,
            code: 'invalid_direction',
          },
        ],
        "Sort directions are 'asc' or 'desc'.",
      )
    }
    const ref = spec.ref ?? spec.column
    return { column: spec.column, direction, ref: typeof ref === 'string' ? sql.ref(ref) : ref }
  })
  if (!keys.some((key) => key.column === unique)) {
    // The tie-breaker follows the last key's direction, so one composite index serves the scan.
    keys.push({ column: unique, direction: keys.at(-1)?.direction ?? 'asc', ref: sql.ref(unique) })
  }
  return keys
}

/**
 * The keyset condition in its expanded form, `(a > x) OR (a = x AND b > y) …`, because row-value
 * comparison `(a, b) > (x, y)` cannot mix directions and is missing or unindexed on some engines.
 * A leading `a >= x` bound lets planners range-scan the first key's index.
 */
function afterCondition(
  keys: readonly ResolvedKey[],
  values: readonly unknown[],
): RawBuilder<SqlBool> {
  const branches = keys.map((key, index) => {
    const strict = sql`${key.ref} ${sql.raw(key.direction === 'asc' ? '>' : '<')} ${values[index]}`
    const equal = keys.slice(0, index).map((previous, j) => sql`${previous.ref} = ${values[j]}`)
    return sql`(${sql.join([...equal, strict], sql` and `)})`
  })
  const [first] = keys
  const bound = sql`${first?.ref} ${sql.raw(first?.direction === 'asc' ? '>=' : '<=')} ${values[0]}`
  return sql<SqlBool>`(${bound} and (${sql.join(branches, sql` or `)}))`
}

/**
 * Runs one page of a keyset ("seek") pagination over a Kysely select: the rows after the cursor
 * in a stable order, plus the cursor of the next page. Unlike OFFSET, the database seeks straight
 * to the page through an index, so page 10 000 costs what page 1 costs. Cursors are opaque and
 * signed with `key`: a forged, corrupt or foreign cursor (another query or ordering) is a
 * {@link ValidationError} (422, issue path `after`), never a 500.
 *
 * Rules: `paginate` owns the query's `ORDER BY` and `LIMIT` (existing ones are replaced); sort
 * columns must be selected and NOT NULL; a unique column (`id` unless `unique` says otherwise)
 * ends the ordering so ties never split or repeat rows. Timestamps travel as JS dates, so sort by
 * millisecond-precision columns (PostgreSQL `timestamptz(3)`), or a sub-millisecond row may repeat.
 *
 * @example
 * ```ts
 * import { paginate } from '@mortar/core'
 *
 * const page = await paginate(db.selectFrom('products').select(['id', 'name', 'price']), {
 *   orderBy: [{ column: 'price', direction: 'desc' }, 'name'],
 *   after: request.query.after,
 *   limit: 20,
 *   key: config.paginationKey,
 * })
 * // page.items: 20 rows; page.nextCursor: pass as ?after= for the next page, null at the end
 * ```
 */
export async function paginate<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  options: PaginateOptions<DB, TB, O>,
): Promise<Page<O>> {
  return paginateWithKey(query, options, toKeyRing(options.key))
}

/** {@link paginate} with checked key bytes, signer first; the {@link Paginator} calls it. */
export async function paginateWithKey<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  request: PageRequest<DB, TB, O>,
  signing: readonly Uint8Array[],
): Promise<Page<O>> {
  const { limit, after } = request
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError(
      [{ path: 'limit', message: 'Must be a positive integer.', code: 'invalid_limit' }],
      'The page size must be a positive integer.',
    )
  }
  const unique = (request as { unique?: string }).unique ?? 'id'
  const keys = resolveKeys(request.orderBy, unique)
  const base = query.clearOrderBy().clearLimit().clearOffset()
  const listing = fingerprint(
    base.compile().sql,
    keys.map((key) => `${key.column} ${key.direction}`),
  )
  let paged = base
  if (after !== undefined && after !== null) {
    const values = decodeCursor(signing, listing, keys.length, after)
    paged = paged.where(afterCondition(keys, values))
  }
  for (const sortKey of keys) paged = paged.orderBy(sortKey.ref, sortKey.direction)
  // One extra row tells whether a next page exists without a COUNT.
  const rows = await paged.limit(limit + 1).execute()
  const items = rows.slice(0, limit)
  const last = items.at(-1) as Record<string, unknown> | undefined
  const nextCursor =
    rows.length > limit && last
      ? encodeCursor(
          signing,
          listing,
          keys.map((sortKey) => sortKey.column),
          keys.map((sortKey) => last[sortKey.column]),
        )
      : null
  return { items, nextCursor }
}
