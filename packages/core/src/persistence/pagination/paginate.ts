import {
  type Expression,
  type RawBuilder,
  type SelectQueryBuilder,
  type SqlBool,
  type StringReference,
  sql,
} from 'kysely'
import { ValidationError } from '../../errors/http-errors.js'
import { MortarError } from '../../errors/mortar-error.js'
import { decimalOf } from '../../validation/decimal-text.js'
import { decodeCursor, encodeCursor, fingerprint, nullSortValue } from './cursor-codec.js'
import { type PaginationKeys, toKeyRing } from './pagination-key.js'

/** Which way a sort key runs. */
export type SortDirection = 'asc' | 'desc'

/**
 * The selected columns a listing may be sorted by as they are: those whose type excludes `null`.
 * A nullable column is a sort key only when marked `nullable: true` (see {@link SortKey}).
 */
export type SortableColumn<O> = {
  [K in keyof O & string]: null extends O[K] ? never : undefined extends O[K] ? never : K
}[keyof O & string]

/** The selected columns whose type includes `null`: sort keys marked `nullable: true`. */
export type NullableColumn<O> = {
  [K in keyof O & string]: null extends O[K] ? K : never
}[keyof O & string]

/**
 * One sort key: a selected column, ascending by default. `ref` names the expression behind the
 * column when the selection renames it (`p.name as title`) or a join makes it ambiguous, because
 * a `WHERE` clause cannot see select aliases. A column that may hold NULL needs
 * `nullable: true`: its NULLs sort last ascending and first descending, on every engine.
 */
export type SortKey<DB, TB extends keyof DB, O> =
  | SortableColumn<O>
  | {
      readonly column: SortableColumn<O>
      readonly direction?: SortDirection
      readonly ref?: StringReference<DB, TB> | Expression<unknown>
      readonly nullable?: boolean
    }
  | {
      readonly column: NullableColumn<O>
      readonly direction?: SortDirection
      readonly ref?: StringReference<DB, TB> | Expression<unknown>
      readonly nullable: true
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
  /** Rows per page, a whole number from 1 to 1000 (a page is read whole into memory). */
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
  readonly nullable: boolean
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
            nullable?: boolean
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
    return {
      column: spec.column,
      direction,
      ref: typeof ref === 'string' ? sql.ref(ref) : ref,
      nullable: spec.nullable === true,
    }
  })
  const last = keys.find((key) => key.column === unique)
  if (last?.nullable) {
    throw new MortarError(
      'E_PAGINATION_SORT_VALUE',
      500,
      `The unique column '${unique}' ends the ordering and breaks ties, so it cannot be nullable.`,
    )
  }
  if (last === undefined) {
    // The tie-breaker follows the last key's direction, so one composite index serves the scan.
    keys.push({
      column: unique,
      direction: keys.at(-1)?.direction ?? 'asc',
      ref: sql.ref(unique),
      nullable: false,
    })
  }
  return keys
}

// NULL sorts as if larger than every value: last ascending, first descending (PostgreSQL's own
// order, so its indexes serve it as they are).
function equalTo(key: ResolvedKey, value: unknown): RawBuilder<SqlBool> {
  return value === null ? sql`${key.ref} is null` : sql`${key.ref} = ${value}`
}

/** Rows past `value` in this key alone; `undefined` when none can be (ascending past a NULL). */
function pastIn(key: ResolvedKey, value: unknown): RawBuilder<SqlBool> | undefined {
  if (key.direction === 'asc') {
    if (value === null) return undefined
    const greater = sql<SqlBool>`${key.ref} > ${value}`
    return key.nullable ? sql`(${greater} or ${key.ref} is null)` : greater
  }
  return value === null ? sql`${key.ref} is not null` : sql`${key.ref} < ${value}`
}

/**
 * The keyset condition in its expanded form, `(a > x) OR (a = x AND b > y) …`, because row-value
 * comparison `(a, b) > (x, y)` cannot mix directions, has no NULL order, and is missing or
 * unindexed on some engines. A leading `a >= x` bound lets planners range-scan the first key's
 * index where the first value allows one.
 */
function afterCondition(
  keys: readonly ResolvedKey[],
  values: readonly unknown[],
): RawBuilder<SqlBool> {
  const branches: RawBuilder<SqlBool>[] = []
  keys.forEach((key, index) => {
    const past = pastIn(key, values[index])
    if (past === undefined) return
    const equal = keys.slice(0, index).map((previous, j) => equalTo(previous, values[j]))
    branches.push(sql`(${sql.join([...equal, past], sql` and `)})`)
  })
  const condition = sql<SqlBool>`(${sql.join(branches, sql` or `)})`
  const [first] = keys
  const start = values[0]
  if (first === undefined) return condition
  if (first.direction === 'asc' && start === null) {
    return sql`(${first.ref} is null and ${condition})`
  }
  if (start === null || (first.nullable && first.direction === 'asc')) return condition
  const bound = sql`${first.ref} ${sql.raw(first.direction === 'asc' ? '>=' : '<=')} ${start}`
  return sql<SqlBool>`(${bound} and ${condition})`
}

/**
 * Orders by `key`, NULLs last ascending and first descending. PostgreSQL and SQLite say so in
 * the `ORDER BY`; MySQL and MariaDB have no `NULLS LAST` and sort by `key IS NULL` first.
 */
function orderByKey<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  key: ResolvedKey,
  mysql: boolean,
): SelectQueryBuilder<DB, TB, O> {
  if (!key.nullable) return query.orderBy(key.ref, key.direction)
  if (mysql) {
    return query.orderBy(sql`${key.ref} is null`, key.direction).orderBy(key.ref, key.direction)
  }
  return query.orderBy(key.ref, (order) =>
    key.direction === 'asc' ? order.asc().nullsLast() : order.desc().nullsFirst(),
  )
}

/** The alias of a sort key's full-precision text, apart from any column name a listing uses. */
function textColumn(index: number): string {
  return `mortar_cursor_text_${index}`
}

/** The alias of a MySQL sort key's check that it equals the number its text says. */
function exactColumn(index: number): string {
  return `mortar_cursor_exact_${index}`
}

// Text that reads as a number: only then is a key compared with it, so text keys raise no warning.
const NUMERIC_TEXT = '^-?[0-9]+([.][0-9]+)?(e[-+]?[0-9]+)?$'

/**
 * MySQL and MariaDB only: whether a key equals the number its own text says. A FLOAT reaches the
 * driver as six digits of text (0.1234567 as 0.123457), which the column itself never equals, so
 * a cursor carrying it would return one page for good ascending and skip rows descending.
 */
function exactCheck(key: ResolvedKey): RawBuilder<unknown> {
  const text = sql`cast(${key.ref} as char)`
  return sql`case when ${text} regexp ${NUMERIC_TEXT} then ${key.ref} = cast(${text} as double) end`
}

/**
 * Whether a key's text names the number read. PostgreSQL and MariaDB write a double in its
 * shortest form, JavaScript's own, so their text is compared as a decimal: a DECIMAL read as a JS
 * number has more digits than the double and fails. SQLite's `quote()` writes a REAL (the text
 * with a point or an exponent) with 15 significant digits, or 17 when 15 do not read back
 * (π as 3.1415926535897931): that text names the double it reads back as, and SQLite has no
 * DECIMAL to mistake for it.
 */
function textNames(text: string, value: number, sqlite: boolean): boolean {
  if (sqlite && /[.e]/i.test(text)) return Number(text) === value
  return decimalOf(text) === decimalOf(String(value))
}

/**
 * Refuses a number key whose value is not the one the database compares: the driver rounded it
 * (a DECIMAL read as a JS number: mysql2's `decimalNumbers`, a pg type parser) or the engine reads
 * the column as another number than its text (a MariaDB FLOAT). A cursor carrying it would skip
 * or repeat rows, or return one page for good.
 */
function refuseInexactNumber(
  key: ResolvedKey,
  value: unknown,
  text: unknown,
  exact: unknown,
  sqlite: boolean,
): void {
  if (typeof value !== 'number') return
  const same = typeof text === 'string' && textNames(text, value, sqlite)
  if (same && (exact === undefined || exact === null || Number(exact) === 1)) return
  throw new MortarError(
    'E_PAGINATION_SORT_VALUE',
    500,
    `Sort column '${key.column}' holds a number the database does not compare equal to the value ` +
      'read back (a FLOAT on MySQL or MariaDB, a DECIMAL the driver turned into a JS number, or a ' +
      'BIGINT past 2^53 read as a rounded number), so a cursor would skip or repeat rows. Sort by ' +
      "a DOUBLE or an integer column, read the DECIMAL as a string (the drivers' default), and " +
      'read big integers as strings (mysql2: supportBigNumbers and bigNumberStrings).',
  )
}

// A query builder does not say its dialect: MySQL's compiler quotes identifiers with backticks,
// PostgreSQL's numbers its parameters.
function dialectOf(
  query: SelectQueryBuilder<unknown, never, unknown>,
): 'mysql' | 'postgres' | 'sqlite' {
  const text = query.where(sql.ref('mortar_dialect_probe'), '=', 0).compile().sql
  return text.includes('`') ? 'mysql' : text.includes('$') ? 'postgres' : 'sqlite'
}

/**
 * Runs one page of a keyset ("seek") pagination over a Kysely select: the rows after the cursor
 * in a stable order, plus the cursor of the next page. Unlike OFFSET, the database seeks straight
 * to the page through an index, so page 10 000 costs what page 1 costs. Cursors are opaque and
 * signed with `key`: a forged, corrupt or foreign cursor (another query or ordering) is a
 * {@link ValidationError} (422, issue path `after`), never a 500.
 *
 * Rules: `paginate` owns the query's `ORDER BY` and `LIMIT` (existing ones are replaced); sort
 * columns must be selected; a column that may hold NULL is marked `nullable: true` and its NULLs
 * sort last ascending, first descending, on every engine (a NULL in an unmarked key is refused
 * with `E_PAGINATION_NULL_SORT_VALUE`, never skipped); a unique column (`id` unless `unique` says
 * otherwise) ends the ordering so ties never split or repeat rows. A timestamp travels in the cursor
 * as the database's own text at the column's full precision (PostgreSQL and MariaDB keep
 * microseconds, a JS date only milliseconds), so rows sharing a millisecond are neither skipped
 * nor repeated.
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

// A page is read whole into memory: a limit passed on from a query string (`?limit=10000000`)
// must not make one request load a table.
const MAX_PAGE_SIZE = 1000

/** {@link paginate} with checked key bytes, signer first; the {@link Paginator} calls it. */
export async function paginateWithKey<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  request: PageRequest<DB, TB, O>,
  signing: readonly Uint8Array[],
): Promise<Page<O>> {
  const { limit, after } = request
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new ValidationError(
      [
        {
          path: 'limit',
          message: `Must be a whole number from 1 to ${MAX_PAGE_SIZE}.`,
          code: 'invalid_limit',
        },
      ],
      `The page size must be a whole number from 1 to ${MAX_PAGE_SIZE}.`,
    )
  }
  const unique = (request as { unique?: string }).unique ?? 'id'
  const keys = resolveKeys(request.orderBy, unique)
  const base = query.clearOrderBy().clearLimit().clearOffset()
  const listing = fingerprint(
    base.compile().sql,
    keys.map((key) => `${key.column} ${key.direction}${key.nullable ? ' nullable' : ''}`),
  )
  let paged = base
  if (after !== undefined && after !== null) {
    const values = decodeCursor(signing, listing, keys.length, after)
    paged = paged.where(afterCondition(keys, values))
  }
  const dialect = dialectOf(base as never)
  const mysql = dialect === 'mysql'
  for (const sortKey of keys) paged = orderByKey(paged, sortKey, mysql)
  // A driver's JS date stops at milliseconds where PostgreSQL and MariaDB keep microseconds, so a
  // cursor built on it skips or repeats rows: each key is also read as the database's own text,
  // which the cursor carries for dates and the next page compares with the column as it is
  // (the engine reads the text as the column's type, so its index still serves the seek). The
  // text also proves a number key exact (see refuseInexactNumber); SQLite's is `quote()`, whose
  // text of a REAL always reads back as the same double (not always its shortest form).
  const asText = (ref: Expression<unknown>): RawBuilder<unknown> =>
    dialect === 'sqlite'
      ? sql`quote(${ref})`
      : sql`cast(${ref} as ${sql.raw(mysql ? 'char' : 'text')})`
  const withText = paged.select([
    ...keys.map((sortKey, index) => asText(sortKey.ref).as(textColumn(index))),
    ...(mysql ? keys.map((sortKey, index) => exactCheck(sortKey).as(exactColumn(index))) : []),
  ])
  // One extra row tells whether a next page exists without a COUNT.
  const rows = (await withText.limit(limit + 1).execute()) as Record<string, unknown>[]
  // A NULL in a key not marked nullable would be skipped or repeated by the next page's
  // condition: refused, whichever row holds it.
  const strict = keys.filter((key) => !key.nullable)
  for (const row of rows) {
    for (const key of keys) {
      if (!(key.column in row)) {
        throw new MortarError(
          'E_PAGINATION_SORT_VALUE',
          500,
          `Sort column '${key.column}' is not in the selection; select it (under that name).`,
        )
      }
    }
    for (const key of strict) if (row[key.column] === null) throw nullSortValue(key.column)
  }
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  const texts = keys.map((_, index) => last?.[textColumn(index)])
  const exact = keys.map((_, index) => last?.[exactColumn(index)])
  for (const item of items) {
    for (let index = 0; index < keys.length; index++) {
      delete item[textColumn(index)]
      if (mysql) delete item[exactColumn(index)]
    }
  }
  const hasMore = rows.length > limit && last !== undefined
  if (hasMore) {
    for (const [index, sortKey] of keys.entries()) {
      refuseInexactNumber(
        sortKey,
        last[sortKey.column],
        texts[index],
        exact[index],
        dialect === 'sqlite',
      )
    }
  }
  if (!hasMore && after !== undefined && after !== null) {
    await refuseHiddenNulls(base, strict, unique)
  }
  const nextCursor = hasMore
    ? encodeCursor(
        signing,
        listing,
        keys.map((sortKey) => sortKey.column),
        keys.map((sortKey, index) => {
          const value = last[sortKey.column]
          return value instanceof Date ? texts[index] : value
        }),
        keys.map((sortKey) => sortKey.nullable),
      )
    : null
  return { items: items as O[], nextCursor }
}

/**
 * At the end of a listing, checks that no row was left out for a NULL in a key not marked
 * nullable (the type said NOT NULL, the database did not): such rows fail every keyset
 * comparison, so the pages never show them. One indexed query per listing walked to its end.
 */
async function refuseHiddenNulls<DB, TB extends keyof DB, O>(
  base: SelectQueryBuilder<DB, TB, O>,
  strict: readonly ResolvedKey[],
  unique: string,
): Promise<void> {
  const checked = strict.filter((key) => key.column !== unique)
  if (checked.length === 0) return
  const anyNull = sql.join(
    checked.map((key) => sql`${key.ref} is null`),
    sql` or `,
  )
  const found = (await base.where(sql<SqlBool>`(${anyNull})`).limit(1).execute()) as Record<
    string,
    unknown
  >[]
  const row = found[0]
  if (row === undefined) return
  const column = checked.find((key) => row[key.column] === null)?.column ?? checked[0]?.column
  throw nullSortValue(column ?? unique)
}
