// Compiles one condition tree twice: to a row predicate for point checks and to a SQL expression
// for lists, updates and deletes. Both follow SQL's three-valued logic (null = unknown), and only
// `true` lets a row through, so a NULL column never matches in one and not in the other.
import { type RawBuilder, type SqlBool, sql } from 'kysely'
import { PolicyDatabaseError, PolicyNeedsDataError } from '../errors.js'
import { equalValues, orderTest, orderValues } from './compare-values.js'
import type { CompareOperator, ConditionNode, OperandNode } from './condition.js'
import { isComparable, pathGetter } from './principal-ref.js'
import type { MysqlColumn, PgColumn } from './column-types.js'
import {
  MYSQL_UNCACHED,
  mysqlCachesByCollation,
  mysqlColumn,
  type SqlColumn,
  type SqlSchema,
  sqlColumnsEqual,
  sqlCompare,
  sqlConstant,
  sqlInList,
  sqlIsNull,
} from './sql-comparison.js'

/** Three-valued truth: `null` is SQL's unknown. */
export type Truth = boolean | null

/** A row as a point check sees it. */
export type Row = Readonly<Record<string, unknown>>

/**
 * A record's own value of a key: a key the record lacks is unknown, even where the record inherits
 * a member of that name (`constructor`), which the database row it stands for never holds.
 */
function own<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined
}

/**
 * A row as point checks read it: on Object.prototype or none. A row on another prototype (one
 * set through `__proto__` by a merge of request data, a class's) is copied, its own enumerable
 * columns only, so what it inherits is no column; then only names Object.prototype holds need
 * `own`, and a check's other reads stay plain (`Object.hasOwn` on every read cost a fifth of
 * the point checks' rate).
 */
export function pointRow(row: Row): Row {
  const prototype: unknown = Object.getPrototypeOf(row)
  return prototype === Object.prototype || prototype === null
    ? row
    : (Object.assign(Object.create(null), row) as Row)
}

/** Whether reads of a column need `own`: Object.prototype holds a member of its name. */
function inherits(column: string): boolean {
  return column in Object.prototype
}

/** Related rows by table, for point checks over relation conditions. */
export type RelatedRows = Readonly<Record<string, readonly Row[] | undefined>>

type ExistsNode = Extract<ConditionNode, { kind: 'exists' }>

/** Decides relation conditions during a point check. */
export interface RelationResolver {
  exists(node: ExistsNode, outer: Row, principal: unknown, inner: RowPredicate): boolean
}

/** A compiled condition over one row (`outer` is the enclosing row inside a relation). */
export type RowPredicate = (
  row: Row,
  principal: unknown,
  relations: RelationResolver,
  outer: Row | undefined,
) => Truth

/** Resolves relations from rows the caller loaded; throws when a table was not given. */
export function relatedRowsResolver(related: RelatedRows | undefined): RelationResolver {
  return {
    exists(node, outer, principal, inner) {
      const rows = own(related, node.table)
      if (rows === undefined) throw new PolicyNeedsDataError(node.table)
      for (const row of rows) if (inner(pointRow(row), principal, this, outer) === true) return true
      return false
    },
  }
}

/** Resolves relations from answers computed beforehand (by the database). */
export function answeredResolver(answers: ReadonlyMap<ExistsNode, boolean>): RelationResolver {
  return {
    exists(node) {
      const answer = answers.get(node)
      if (answer === undefined) throw new PolicyNeedsDataError(node.table)
      return answer
    },
  }
}

function operandGetter(
  node: OperandNode,
  shape: 'value' | 'list',
): (principal: unknown) => unknown {
  if (node.kind === 'value') {
    const value = node.value
    return () => value
  }
  return pathGetter(node.path, shape)
}

/** Values of an `in` list without nulls (`x in (null)` is never true). */
export function listValues(value: unknown): unknown[] {
  const list = Array.isArray(value) ? value : [value]
  return list.filter((item) => item !== null && item !== undefined)
}

/** Compiles a condition tree to a row predicate. */
export function compilePredicate(node: ConditionNode): RowPredicate {
  switch (node.kind) {
    case 'const': {
      const value = node.value
      return () => value
    }
    case 'compare': {
      const { column } = node
      const inherited = inherits(column)
      const get = operandGetter(node.operand, 'value')
      if (node.op === '=' || node.op === '<>') {
        const negate = node.op === '<>'
        // Equality is most rules' test: decide same-typed strings without more ado.
        return (row, principal) => {
          const left = inherited ? own(row, column) : row[column]
          const right = get(principal)
          if (left === null || left === undefined || right === null || right === undefined)
            return null
          if (typeof left === 'string' && typeof right === 'string')
            return (left === right) !== negate
          const equal = equalValues(left, right)
          return equal === null ? null : equal !== negate
        }
      }
      const test = orderTest(node.op)
      return (row, principal) => {
        const left = inherited ? own(row, column) : row[column]
        const right = get(principal)
        if (left === null || left === undefined || right === null || right === undefined)
          return null
        const order = orderValues(left, right)
        return order === undefined ? null : test(order)
      }
    }
    case 'in': {
      const { column } = node
      const inherited = inherits(column)
      const get = operandGetter(node.operand, 'list')
      return (row, principal) => {
        const list = get(principal)
        if (list === undefined) return null
        const values = listValues(list)
        if (values.length === 0) return false
        const left = inherited ? own(row, column) : row[column]
        if (left === null || left === undefined) return null
        let result: Truth = false
        for (const value of values) {
          const equal = equalValues(left, value)
          if (equal === true) return true
          if (equal === null) result = null
        }
        return result
      }
    }
    case 'null': {
      const { column, isNull } = node
      const inherited = inherits(column)
      // A column absent from the row (undefined) is unknown, not NULL: a partial row fails closed.
      return (row) => {
        const value = inherited ? own(row, column) : row[column]
        return value === undefined ? null : (value === null) === isNull
      }
    }
    case 'and': {
      const items = node.items.map(compilePredicate)
      return (row, principal, relations, outer) => {
        let result: Truth = true
        for (const item of items) {
          const value = item(row, principal, relations, outer)
          if (value === false) return false
          if (value === null) result = null
        }
        return result
      }
    }
    case 'or': {
      const items = node.items.map(compilePredicate)
      return (row, principal, relations, outer) => {
        let result: Truth = false
        for (const item of items) {
          const value = item(row, principal, relations, outer)
          if (value === true) return true
          if (value === null) result = null
        }
        return result
      }
    }
    case 'not': {
      const item = compilePredicate(node.item)
      return (row, principal, relations, outer) => {
        const value = item(row, principal, relations, outer)
        return value === null ? null : !value
      }
    }
    case 'exists': {
      const inner = compilePredicate(node.where)
      return (row, principal, relations) => relations.exists(node, row, principal, inner)
    }
    case 'outer': {
      const { column, outerColumn } = node
      return (row, _principal, _relations, outer) => {
        const left = own(row, column)
        const right = own(outer, outerColumn)
        if (left === null || left === undefined || right === null || right === undefined)
          return null
        return equalValues(left, right)
      }
    }
  }
}

/** Where a SQL condition's columns live: the table and its alias, and the enclosing query's. */
export interface SqlScope {
  readonly table: string
  readonly alias: string
  readonly depth: number
  /** The enclosing table inside a relation; `row` when the outer row is known (a point check). */
  readonly outer?: {
    readonly table: string
    readonly alias: string
    readonly row?: Row | undefined
  }
  /** The engine the SQL runs on, with PostgreSQL's column types (sql-comparison.ts). */
  readonly schema: SqlSchema
}

/** A column of `table` under `alias`, with its type on PostgreSQL. */
function sqlColumn(schema: SqlSchema, table: string, alias: string, name: string): SqlColumn {
  const ref = sql.ref(`${alias}.${name}`)
  if (schema.engine === 'sqlite') return { engine: schema.engine, ref }
  const type = schema.columns.get(table)?.get(name)
  if (type === undefined) {
    throw new PolicyDatabaseError(
      `The policy reads column '${name}' of table '${table}', which the database did not list when the AccessControl was created: create tables before the AccessControl, or check the name.`,
    )
  }
  if (schema.engine === 'mysql') {
    if (type === 'json') {
      // mysql2 parses a JSON column ('{"a": 1}' an object, '1.50' the number 1.5, 'null' a
      // NULL) where SQL compares its text: eq('doc', '{"a": 1}') passed in SQL, never in the
      // point check, and a JSON null was NULL to one and a value to the other.
      throw new PolicyDatabaseError(
        `The policy reads JSON column '${name}' of table '${table}', which MariaDB compares as its text and mysql2 reads parsed: a rule cannot compare it alike in both. Compare a generated column of the value instead (json_value(${name}, '$.path') stored as a typed column).`,
      )
    }
    return mysqlColumn(ref, type as Exclude<MysqlColumn, 'json'>)
  }
  const pg = type as PgColumn
  // Byte for byte, as the point check compares (see PgColumn's nondeterministic).
  const exact = pg.nondeterministic ? sql`(${ref} collate "C")` : ref
  return { engine: schema.engine, ref: exact, type: pg }
}

/** `column op value`; a missing value (null, undefined) makes it unknown. */
function compare(column: SqlColumn, op: CompareOperator, value: unknown): RawBuilder<SqlBool> {
  if (value === null || value === undefined) return sql<SqlBool>`${column.ref} ${sql.raw(op)} null`
  return sqlCompare(column, op, value)
}

const TRUE = sqlConstant(true)
const FALSE = sqlConstant(false)

export { sqlConstant }

const SEPARATORS = { and: sql.raw(' and '), or: sql.raw(' or ') }
// The most conditions joined in one run. SQLite parses `a or b or c…` as a chain one level
// deeper per term and refuses a chain past 1000 levels ("Expression tree is too large"): an
// `in` of a principal's thousand ids threw in `where` where `can` answered. Longer runs are
// joined in parenthesized groups, a tree as shallow as the groups are few.
const RUN = 100

/** Joins conditions with `and`/`or`, folding constants away. */
export function sqlJunction(
  kind: 'and' | 'or',
  parts: readonly RawBuilder<SqlBool>[],
): RawBuilder<SqlBool> {
  const neutral = kind === 'and' ? TRUE : FALSE
  const absorbing = kind === 'and' ? FALSE : TRUE
  if (parts.includes(absorbing)) return absorbing
  let kept = parts.filter((part) => part !== neutral)
  if (kept.length === 0) return neutral
  if (kept.length === 1) return kept[0] as RawBuilder<SqlBool>
  while (kept.length > RUN) {
    const groups: RawBuilder<SqlBool>[] = []
    for (let start = 0; start < kept.length; start += RUN) {
      const group = kept.slice(start, start + RUN)
      groups.push(
        group.length === 1
          ? (group[0] as RawBuilder<SqlBool>)
          : sql<SqlBool>`(${sql.join(group, SEPARATORS[kind])})`,
      )
    }
    kept = groups
  }
  return sql<SqlBool>`(${sql.join(kept, SEPARATORS[kind])})`
}

/** The negation of a SQL condition. */
export function sqlNot(part: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  if (part === TRUE) return FALSE
  if (part === FALSE) return TRUE
  return sql<SqlBool>`not (${part})`
}

/** SQL for one principal, from a condition compiled once per table alias. */
export type SqlFactory = (principal: unknown) => RawBuilder<SqlBool>

const factories = new WeakMap<SqlSchema, WeakMap<ConditionNode, Map<string, SqlFactory>>>()

/**
 * Compiles a condition tree to a function of the principal. Everything that does not read the
 * principal (column references, literals, whole subtrees) is built once, so a request only
 * builds the nodes that hold its own values. Cached per schema, tree and alias unless an outer row is
 * given (a point check's relation query).
 */
export function sqlFactory(node: ConditionNode, scope: SqlScope): SqlFactory {
  if (scope.depth !== 0 || scope.outer !== undefined) return buildFactory(node, scope)
  let byNode = factories.get(scope.schema)
  if (byNode === undefined) {
    byNode = new WeakMap()
    factories.set(scope.schema, byNode)
  }
  let byAlias = byNode.get(node)
  if (byAlias === undefined) {
    byAlias = new Map()
    byNode.set(node, byAlias)
  }
  const key = `${scope.table}\u0000${scope.alias}`
  let factory = byAlias.get(key)
  if (factory === undefined) {
    factory = buildFactory(node, scope)
    byAlias.set(key, factory)
  }
  return factory
}

/** Compiles a condition tree to SQL for one principal. */
export function compileSql(
  node: ConditionNode,
  principal: unknown,
  scope: SqlScope,
): RawBuilder<SqlBool> {
  return sqlFactory(node, scope)(principal)
}

function constant(value: RawBuilder<SqlBool>): SqlFactory {
  const factory: SqlFactory = () => value
  constants.add(factory)
  return factory
}

const constants = new WeakSet<SqlFactory>()

/** The outer columns a relation's condition links to (not those of relations inside it). */
function outerLinks(node: ConditionNode, into: string[] = []): string[] {
  if (node.kind === 'outer') into.push(node.outerColumn)
  else if (node.kind === 'and' || node.kind === 'or')
    for (const item of node.items) outerLinks(item, into)
  else if (node.kind === 'not') outerLinks(node.item, into)
  return into
}

/** The longest `in` list MariaDB gets as a term per value (see buildFactory). */
const MYSQL_TERMS_UP_TO = 64

function buildFactory(node: ConditionNode, scope: SqlScope): SqlFactory {
  const { schema } = scope
  const column = (name: string) => sqlColumn(schema, scope.table, scope.alias, name)
  switch (node.kind) {
    case 'const':
      return constant(sqlConstant(node.value))
    case 'compare': {
      const left = column(node.column)
      const { op, operand } = node
      if (operand.kind === 'value') return constant(compare(left, op, operand.value))
      const get = pathGetter(operand.path, 'value')
      return (principal) => compare(left, op, get(principal))
    }
    case 'in': {
      const left = column(node.column)
      const { operand } = node
      const build = (value: unknown) => {
        const values = listValues(value)
        if (values.length === 0) return FALSE
        // MariaDB serves a short list's terms from an index of the column, never a json_table
        // list; past a short list, a term per value is tested against every row (seconds).
        if (left.engine === 'mysql' && values.length <= MYSQL_TERMS_UP_TO) {
          return sqlJunction(
            'or',
            values.map((item) => sqlCompare(left, '=', item)),
          )
        }
        return sqlInList(left, values)
      }
      if (operand.kind === 'value') return constant(build(operand.value))
      const get = pathGetter(operand.path, 'list')
      return (principal) => build(get(principal))
    }
    case 'null':
      return constant(sqlIsNull(column(node.column), node.isNull))
    case 'and':
    case 'or': {
      const kind = node.kind
      const items = node.items.map((item) => buildFactory(item, scope))
      if (items.every((item) => constants.has(item))) {
        return constant(
          sqlJunction(
            kind,
            items.map((item) => item(undefined)),
          ),
        )
      }
      return (principal) =>
        sqlJunction(
          kind,
          items.map((item) => item(principal)),
        )
    }
    case 'not': {
      const item = buildFactory(node.item, scope)
      if (constants.has(item)) return constant(sqlNot(item(undefined)))
      return (principal) => sqlNot(item(principal))
    }
    case 'exists': {
      const alias = `${node.table}_${scope.depth + 1}`
      const where = buildFactory(node.where, {
        table: node.table,
        alias,
        depth: scope.depth + 1,
        outer: { table: scope.table, alias: scope.alias },
        schema,
      })
      const from = sql`${sql.table(node.table)} as ${sql.id(alias)}`
      // Linked through a column MariaDB would cache the answer by under its collation.
      const uncached = outerLinks(node.where).some((name) => mysqlCachesByCollation(column(name)))
      const build = (condition: RawBuilder<SqlBool>) =>
        sql<SqlBool>`exists (select 1 from ${from} where ${uncached ? sqlJunction('and', [condition, MYSQL_UNCACHED]) : condition})`
      if (constants.has(where)) return constant(build(where(undefined)))
      return (principal) => build(where(principal))
    }
    case 'outer': {
      const outer = scope.outer
      if (outer === undefined) throw new Error('a relation link outside a relation')
      if (outer.row !== undefined) {
        // The caller's row may hold anything: a value no column holds matches no related row.
        const value = own(outer.row, node.outerColumn)
        return constant(compare(column(node.column), '=', isComparable(value) ? value : null))
      }
      return constant(
        sqlColumnsEqual(
          column(node.column),
          sqlColumn(schema, outer.table, outer.alias, node.outerColumn),
        ),
      )
    }
  }
}
