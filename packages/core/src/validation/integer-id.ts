import { z } from 'zod'

/** The largest value of an SQL `INTEGER` column on PostgreSQL and MariaDB (2^31 - 1), the default bound of {@link integerId}. */
export const MAX_SQL_INTEGER = 2_147_483_647

/** Options of {@link integerId}. */
export interface IntegerIdOptions {
  /**
   * The largest id accepted: `2_147_483_647` (default, an `integer` column), or up to
   * `Number.MAX_SAFE_INTEGER` for a `bigint` column read as a number.
   */
  readonly max?: number
}

// One spelling per id: no sign, no leading zero, no fraction, exponent, hex or spaces, which
// `Number()` would all accept.
const DIGITS = /^[1-9][0-9]{0,15}$/

/**
 * A zod schema for a positive integer id, from a JSON number or from the digits of a path or
 * query parameter (`'42'`), as a number no larger than the column holds. `'0x10'`, `'1e3'`,
 * `'1.5'`, `'-1'`, `' 7'` and `'2147483648'` are refused, where `z.coerce.number()` would pass
 * some to the database, which refuses them (or worse, finds another row).
 *
 * @example
 * ```ts
 * import { integerId } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const params = z.object({ id: integerId() })
 * params.parse({ id: '42' }) // { id: 42 }
 * params.safeParse({ id: '2147483648' }).success // false
 * ```
 */
export function integerId(options: IntegerIdOptions = {}): z.ZodType<number, unknown> {
  const max = options.max ?? MAX_SQL_INTEGER
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError('integerId({ max }) must be a positive safe integer.')
  }
  return z.preprocess(
    (value) => (typeof value === 'string' && DIGITS.test(value) ? Number(value) : value),
    z.number().int().min(1).max(max),
  )
}
