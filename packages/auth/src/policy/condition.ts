import type { Selectable } from 'kysely'
import { PolicyDefinitionError } from '../errors.js'
import { isComparable, type PrincipalRef, refPath } from './principal-ref.js'

/** A value in a rule: a literal, or a path into the principal read when a principal is bound. */
export type OperandNode =
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'ref'; readonly path: readonly string[] }

/** A comparison operator, as SQL spells it. */
export type CompareOperator = '=' | '<>' | '<' | '<=' | '>' | '>='

/**
 * The tree a rule's condition is stored as; compiled once into a row predicate and into a SQL
 * expression, so that both read the same tree.
 */
export type ConditionNode =
  | { readonly kind: 'const'; readonly value: boolean }
  | {
      readonly kind: 'compare'
      readonly op: CompareOperator
      readonly column: string
      readonly operand: OperandNode
    }
  | { readonly kind: 'in'; readonly column: string; readonly operand: OperandNode }
  | { readonly kind: 'null'; readonly column: string; readonly isNull: boolean }
  | { readonly kind: 'and' | 'or'; readonly items: readonly ConditionNode[] }
  | { readonly kind: 'not'; readonly item: ConditionNode }
  | { readonly kind: 'exists'; readonly table: string; readonly where: ConditionNode }
  | { readonly kind: 'outer'; readonly column: string; readonly outerColumn: string }

declare const tableBrand: unique symbol

/**
 * A condition over the rows of table `T`, made by a {@link ConditionBuilder}. Opaque: combine
 * conditions with the builder's `and`, `or` and `not`.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * definePolicy<Db>().allow('read', 'trip', (t) => t.and(t.eq('status', 'done'), t.isNull('deleted_at')))
 * ```
 */
export interface Condition<T extends string> {
  readonly node: ConditionNode
  readonly [tableBrand]?: T
}

/** The columns of table `T` of the Kysely database interface `DB`. */
export type ColumnOf<DB, T extends keyof DB> = keyof Selectable<DB[T]> & string

/** The non-null value type of column `C` of table `T`, as Kysely selects it. */
export type ValueOf<DB, T extends keyof DB, C extends ColumnOf<DB, T>> = NonNullable<
  Selectable<DB[T]>[C]
>

/** A literal of type `V` or a principal value of type `V` (possibly missing: then it fails closed). */
export type Operand<V> = V | PrincipalRef<V | null | undefined>

function operand(value: unknown, what: string, shape: 'value' | 'list' = 'value'): OperandNode {
  const path = refPath(value)
  if (path !== undefined) return { kind: 'ref', path }
  if (value === null || value === undefined) {
    throw new PolicyDefinitionError(
      `${what} got ${String(value)}: compare with null through isNull()/isNotNull().`,
    )
  }
  // A literal the point check could never compare (NaN from a parsed setting, an invalid Date)
  // would be unknown there and a value in SQL: refuse it rather than let the two disagree.
  if (shape === 'value' && !isComparable(value)) {
    const got =
      typeof value === 'string'
        ? 'a string with an unpaired surrogate'
        : typeof value !== 'object'
          ? String(value)
          : value instanceof Date
            ? 'an invalid Date'
            : Array.isArray(value)
              ? 'an array'
              : 'an object'
    throw new PolicyDefinitionError(
      `${what} got ${got}: a rule compares a string, a number, a bigint, a boolean or a valid Date.`,
    )
  }
  return { kind: 'value', value }
}

function condition<T extends string>(node: ConditionNode): Condition<T> {
  return { node }
}

/**
 * Builds conditions over table `T`, typed by the app's Kysely database interface: a misspelled
 * column or a value of the wrong type does not compile. Null semantics are SQL's: a comparison
 * with a NULL column is unknown, and `not` of unknown stays unknown, so such a row never matches.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * definePolicy<Db, { id: string }>().allow('cancel', 'trip', (t, p) =>
 *   t.and(t.eq('rider_id', p.id), t.in('status', ['requested', 'accepted'])),
 * )
 * ```
 */
export class ConditionBuilder<DB, T extends keyof DB & string> {
  /** `column = value`. */
  eq<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('=', column, value)
  }

  /** `column <> value` (a NULL column matches neither `eq` nor `ne`). */
  ne<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('<>', column, value)
  }

  /** `column < value`. */
  lt<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('<', column, value)
  }

  /** `column <= value`. */
  lte<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('<=', column, value)
  }

  /** `column > value`. */
  gt<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('>', column, value)
  }

  /** `column >= value`. */
  gte<C extends ColumnOf<DB, T>>(column: C, value: Operand<ValueOf<DB, T, C>>): Condition<T> {
    return this.#compare('>=', column, value)
  }

  /** `column in (…values)`; an empty list matches nothing. */
  in<C extends ColumnOf<DB, T>>(
    column: C,
    values:
      | readonly ValueOf<DB, T, C>[]
      | PrincipalRef<readonly ValueOf<DB, T, C>[] | null | undefined>,
  ): Condition<T> {
    const node = operand(values, `in('${column}')`, 'list')
    if (node.kind === 'value') {
      if (!Array.isArray(node.value)) {
        throw new PolicyDefinitionError(`in('${column}') needs an array of values.`)
      }
      for (const item of node.value) {
        // A principal value inside a literal list would be compared as the reference itself.
        if (operand(item, `in('${column}')`).kind === 'ref') {
          throw new PolicyDefinitionError(
            `in('${column}') got a principal value inside a list: pass a list of literals, or a principal's list (p.ids).`,
          )
        }
      }
    }
    return condition({ kind: 'in', column, operand: node })
  }

  /** `column is null`. */
  isNull(column: ColumnOf<DB, T>): Condition<T> {
    return condition({ kind: 'null', column, isNull: true })
  }

  /** `column is not null`. */
  isNotNull(column: ColumnOf<DB, T>): Condition<T> {
    return condition({ kind: 'null', column, isNull: false })
  }

  /** All of `conditions` (true when empty). */
  and(...conditions: readonly Condition<T>[]): Condition<T> {
    return condition({ kind: 'and', items: conditions.map((item) => item.node) })
  }

  /** Any of `conditions` (false when empty). */
  or(...conditions: readonly Condition<T>[]): Condition<T> {
    return condition({ kind: 'or', items: conditions.map((item) => item.node) })
  }

  /** The negation of `inner`, with SQL's three-valued logic. */
  not(inner: Condition<T>): Condition<T> {
    return condition({ kind: 'not', item: inner.node })
  }

  /** A constant: `true` matches every row, `false` none. */
  always(value: boolean): Condition<T> {
    return condition({ kind: 'const', value })
  }

  /**
   * A row of `table` exists that relates to this row (a share, a membership): `build` receives a
   * builder over `table`, whose `matches(column, outerColumn)` links the two.
   *
   * @example
   * ```ts
   * import { definePolicy } from '@mortar/auth'
   *
   * definePolicy<Db, { id: string }>().allow('read', 'trip', (t, p) =>
   *   t.exists('trip_share', (s) => s.and(s.matches('trip_id', 'id'), s.eq('user_id', p.id))),
   * )
   * ```
   */
  exists<R extends keyof DB & string>(
    table: R,
    build: (related: RelationBuilder<DB, R, T>) => Condition<R>,
  ): Condition<T> {
    return condition({ kind: 'exists', table, where: build(new RelationBuilder()).node })
  }

  #compare(op: CompareOperator, column: string, value: unknown): Condition<T> {
    return condition({ kind: 'compare', op, column, operand: operand(value, `'${column}' ${op}`) })
  }
}

/**
 * The builder inside {@link ConditionBuilder.exists}: conditions over the related table `R`, plus
 * `matches` to link a related column to a column of the outer table `O` of the same type.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * definePolicy<Db>().allow('read', 'trip', (t) => t.exists('trip_share', (s) => s.matches('trip_id', 'id')))
 * ```
 */
export class RelationBuilder<
  DB,
  R extends keyof DB & string,
  O extends keyof DB & string,
> extends ConditionBuilder<DB, R> {
  /** `related.column = outer.outerColumn`; the two columns must have the same value type. */
  matches<C extends ColumnOf<DB, R>>(
    column: C,
    outerColumn: {
      [K in ColumnOf<DB, O>]: ValueOf<DB, O, K> extends ValueOf<DB, R, C> ? K : never
    }[ColumnOf<DB, O>],
  ): Condition<R> {
    return condition({ kind: 'outer', column, outerColumn })
  }
}
