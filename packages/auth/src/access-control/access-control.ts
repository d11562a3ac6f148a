import { engineOf, type Principal } from '@mortar/core'
import {
  type Expression,
  type Kysely,
  type RawBuilder,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely'
import { markAuthorized } from '../authorize/authorization-record.js'
import {
  AccessDeniedError,
  HiddenResourceError,
  PolicyDatabaseError,
  PolicyNeedsDataError,
} from '../errors.js'
import type { ColumnOf, ConditionNode } from '../policy/condition.js'
import {
  answeredResolver,
  compileSql,
  type RelatedRows,
  type RelationResolver,
  pointRow,
  relatedRowsResolver,
  type Row,
  sqlConstant,
  sqlJunction,
  sqlNot,
  type Truth,
} from '../policy/compile-condition.js'
import { checkSqliteFunctions, readMysqlColumns, readPgColumns } from '../policy/column-types.js'
import { checkDriverReads } from '../policy/driver-reads.js'
import type { CompiledRule, Policy, RuleSet } from '../policy/policy.js'
import type { SqlSchema } from '../policy/sql-comparison.js'

/**
 * The answer of a check without a row: `'always'` for every row, `'never'` for none,
 * `'conditional'` when it depends on the row (filter the query with `where`). Never a bare
 * `true` for a conditional rule, which is how whole tables leak.
 */
export type Capability = 'always' | 'never' | 'conditional'

/**
 * A row of table `T` as point checks take it: any subset of its columns, as own properties. A
 * column left out (or only inherited) is unknown, not NULL, so a rule that reads it fails closed;
 * give NULL columns as `null`.
 */
export type RowOf<DB, T extends keyof DB> = Readonly<Partial<Selectable<DB[T]>>>

/** Options of an {@link AccessControl} made with `new`: point checks only. */
export interface AccessControlOptions<DB, P, A extends string> {
  readonly policy: Policy<DB, P, A>
}

/** Options of {@link AccessControl.create}: point checks and query filters. */
export interface AccessControlDatabaseOptions<DB, P, A extends string>
  extends AccessControlOptions<DB, P, A> {
  /**
   * Runs relation conditions (`exists`) of point checks in `canAsync` and `authorize`, and is
   * what `where` and `filter` compile for: its engine and, on PostgreSQL, its column types, so
   * that a value of another kind than its column compares in SQL as in the point check.
   */
  readonly db: Kysely<DB>
}

/** Options of a synchronous point check. */
export interface CheckOptions {
  /** Rows of the tables that relation conditions read, by table. */
  readonly related?: RelatedRows
}

/** Options of `where` and `filter`. */
export interface WhereOptions {
  /** The alias the query gives the resource's table (`selectFrom('trip as t')` → `'t'`). */
  readonly as?: string
}

/** How one rule took part in a decision. */
export interface RuleVerdict {
  readonly id: string
  readonly effect: 'allow' | 'deny' | 'tenant'
  readonly role: string | undefined
  readonly reason: string | undefined
  /**
   * `matched`/`unmatched`/`unknown` (a NULL made it undecided) for a row; `always`/`never`/
   * `conditional` without one; `missing-principal-value` when the principal lacks a value the
   * rule reads (an allow then never matches, a deny always does); `needs-related-rows` when a
   * relation decides and `options.related` lacks its table.
   */
  readonly outcome:
    | 'matched'
    | 'unmatched'
    | 'unknown'
    | 'always'
    | 'never'
    | 'conditional'
    | 'missing-principal-value'
    | 'needs-related-rows'
}

/** What `explain` returns: the decision, the deciding rule and every rule considered. */
export interface Explanation {
  /** For a row, whether it is allowed; without one, the {@link Capability}. */
  readonly decision: boolean | Capability
  /** The deciding rule: the matching allow, the deny or tenant rule, or `default-deny`. */
  readonly ruleId: string
  readonly reason: string
  /** The principal's roles, inherited ones included. */
  readonly roles: readonly string[]
  readonly rules: readonly RuleVerdict[]
}

interface Decision {
  readonly allowed: boolean
  readonly ruleId: string
  readonly reason: string
}

type ExistsNode = Extract<ConditionNode, { kind: 'exists' }>

function missingValue(rule: CompiledRule, principal: unknown): boolean {
  const refs = rule.refs
  if (refs.length === 0) return false
  for (const get of refs) {
    const value = get(principal)
    if (value === null || value === undefined) return true
  }
  return false
}

// Top-level relations of a rule (nested ones run inside their parent's SQL).
function relationsOf(node: ConditionNode, into: ExistsNode[] = []): ExistsNode[] {
  if (node.kind === 'exists') into.push(node)
  else if (node.kind === 'and' || node.kind === 'or')
    for (const item of node.items) relationsOf(item, into)
  else if (node.kind === 'not') relationsOf(node.item, into)
  return into
}

const NO_RELATIONS = relatedRowsResolver(undefined)

/** Whether a row argument holds a row: `undefined`, `null` or a bare id is none. */
function isRow(row: unknown): row is Row {
  return typeof row === 'object' && row !== null
}

/** Decides a point check over one row, naming the deciding rule (for authorize and explain). */
function decideRow(
  set: RuleSet,
  principal: unknown,
  row: Row,
  relations: RelationResolver,
): Decision {
  const { tenant } = set
  if (tenant !== undefined) {
    if (
      missingValue(tenant, principal) ||
      tenant.predicate(row, principal, relations, undefined) !== true
    ) {
      return { allowed: false, ruleId: tenant.id, reason: tenant.reason ?? 'tenant mismatch' }
    }
  }
  let allowedBy: CompiledRule | undefined
  for (const rule of set.allows) {
    if (missingValue(rule, principal)) continue
    if (rule.predicate(row, principal, relations, undefined) === true) {
      allowedBy = rule
      break
    }
  }
  if (allowedBy === undefined) return defaultDeny(set)
  for (const rule of set.denies) {
    // A deny that is unknown for the row still excludes it, as NOT(unknown) does in SQL.
    if (
      missingValue(rule, principal) ||
      rule.predicate(row, principal, relations, undefined) !== false
    ) {
      return {
        allowed: false,
        ruleId: rule.id,
        reason: rule.reason ?? `denied by rule '${rule.id}'`,
      }
    }
  }
  return {
    allowed: true,
    ruleId: allowedBy.id,
    reason: allowedBy.reason ?? `allowed by rule '${allowedBy.id}'`,
  }
}

// The allocation-free twin of decideRow for `can`: same order, same three-valued logic; it
// skips the missing-value scan where the predicate already fails closed (see checkRefs).
function allowsRow(
  set: RuleSet,
  principal: unknown,
  row: Row,
  relations: RelationResolver,
): boolean {
  const { tenant } = set
  if (tenant !== undefined) {
    if (tenant.predicate(row, principal, relations, undefined) !== true) {
      return false
    }
  }
  let allowed = false
  for (const rule of set.allows) {
    if (rule.checkRefs && missingValue(rule, principal)) continue
    if (rule.predicate(row, principal, relations, undefined) === true) {
      allowed = true
      break
    }
  }
  if (!allowed) return false
  for (const rule of set.denies) {
    if (
      (rule.checkRefs && missingValue(rule, principal)) ||
      rule.predicate(row, principal, relations, undefined) !== false
    ) {
      return false
    }
  }
  return true
}

function defaultDeny(set: RuleSet): Decision {
  return {
    allowed: false,
    ruleId: 'default-deny',
    reason: `no rule allows '${set.action}' on '${set.resource}' for this principal`,
  }
}

function capabilityOf(set: RuleSet, principal: unknown): Decision & { capability: Capability } {
  const never = (decision: Decision) => ({ ...decision, capability: 'never' as const })
  let conditional = false
  if (set.tenant !== undefined) {
    if (missingValue(set.tenant, principal)) {
      return never({ allowed: false, ruleId: set.tenant.id, reason: 'the principal has no tenant' })
    }
    conditional = true
  }
  let always: CompiledRule | undefined
  let some: CompiledRule | undefined
  for (const rule of set.allows) {
    if (missingValue(rule, principal) || rule.constant === false) continue
    some ??= rule
    if (rule.constant === true) always ??= rule
  }
  if (some === undefined) return never(defaultDeny(set))
  for (const rule of set.denies) {
    if (rule.constant === false) continue
    if (missingValue(rule, principal) || rule.constant === true) {
      return never({
        allowed: false,
        ruleId: rule.id,
        reason: rule.reason ?? `denied by rule '${rule.id}'`,
      })
    }
    conditional = true
  }
  const rule = always ?? some
  const capability: Capability = always !== undefined && !conditional ? 'always' : 'conditional'
  return {
    allowed: true,
    ruleId: rule.id,
    reason: rule.reason ?? `allowed by rule '${rule.id}'`,
    capability,
  }
}

interface SqlTarget {
  readonly table: string
  readonly alias: string
  readonly schema: SqlSchema
}

function ruleSql(
  rule: CompiledRule,
  principal: unknown,
  target: SqlTarget,
  failClosed: boolean,
): RawBuilder<SqlBool> {
  if (missingValue(rule, principal)) return sqlConstant(failClosed)
  return compileSql(rule.condition, principal, { ...target, depth: 0 })
}

/** The SQL condition of a rule set: tenant AND (any allow) AND NOT (any deny). */
function setSql(set: RuleSet, principal: unknown, target: SqlTarget): RawBuilder<SqlBool> {
  const parts: RawBuilder<SqlBool>[] = []
  if (set.tenant !== undefined) parts.push(ruleSql(set.tenant, principal, target, false))
  parts.push(
    sqlJunction(
      'or',
      set.allows.map((rule) => ruleSql(rule, principal, target, false)),
    ),
  )
  if (set.denies.length > 0) {
    parts.push(
      sqlNot(
        sqlJunction(
          'or',
          set.denies.map((rule) => ruleSql(rule, principal, target, true)),
        ),
      ),
    )
  }
  return sqlJunction('and', parts)
}

/** A query builder that takes a SQL condition: Kysely's select, update and delete builders. */
export interface Filterable<Q> {
  where(expression: Expression<SqlBool>): Q
}

/**
 * Answers access questions from a {@link Policy}: point checks over a row (`can`,
 * `authorize`), capabilities without a row, query filters for select, update and delete
 * (`where`, `filter`) and readable columns (`permittedFields`). Point checks and filters read
 * the same compiled rules, so they agree (the agreement kit in `@mortar/auth/testing` proves
 * it for a policy).
 *
 * @example
 * ```ts
 * import { AccessControl } from '@mortar/auth'
 *
 * const access = await AccessControl.create({ policy: ridesPolicy, db })
 * const trips = await access.filter(db.selectFrom('trip').selectAll(), user, 'read', 'trip').execute()
 * await access.authorize(user, 'cancel', 'trip', trip)
 * ```
 */
export class AccessControl<DB = unknown, P = Principal, A extends string = string> {
  /** The policy this service answers from. */
  readonly policy: Policy<DB, P, A>
  #db: Kysely<DB> | undefined
  #schema: SqlSchema | undefined

  /** Point checks only: `where`, `filter` and `canAsync`'s relations need {@link create}. */
  constructor(options: AccessControlOptions<DB, P, A>) {
    this.policy = options.policy
  }

  /**
   * An access control with a database: point checks, relation conditions run on `db`, and query
   * filters compiled for its engine. On PostgreSQL it reads the column types of the tables on
   * the search path once, here, so that every comparison is written for its column's type
   * (an index is used, no row is tested for its type): create it after the tables exist. It
   * throws {@link PolicyDatabaseError} when the driver reads values otherwise than the SQL is
   * written for (mysql2's `decimalNumbers` or `dateStrings`, a pg type parser of the app's).
   */
  static async create<DB, P, A extends string>(
    options: AccessControlDatabaseOptions<DB, P, A>,
  ): Promise<AccessControl<DB, P, A>> {
    const access = new AccessControl<DB, P, A>(options)
    const engine = engineOf(options.db)
    access.#db = options.db
    const db = options.db as Kysely<unknown>
    if (engine === 'sqlite') await checkSqliteFunctions(db)
    else await checkDriverReads(db, engine)
    access.#schema =
      engine === 'postgres'
        ? { engine, columns: await readPgColumns(db) }
        : engine === 'mysql'
          ? { engine, columns: await readMysqlColumns(db) }
          : { engine }
    return access
  }

  /**
   * Without a row: whether `principal` may `action` some `resource` rows (`'always'`, `'never'`,
   * `'conditional'`). With a row: whether it may on this one. Relation conditions need their
   * rows in `options.related`, or use {@link canAsync}.
   */
  can<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
  ): Capability
  can<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
    row: RowOf<DB, T>,
    options?: CheckOptions,
  ): boolean
  can(
    principal: P | null | undefined,
    action: A,
    resource: string,
    ...rest: [row?: Row, options?: CheckOptions]
  ): boolean | Capability {
    markAuthorized()
    const set = this.#set(principal, action, resource)
    // Only a call without a row asks for the capability: a row argument holding no row (a
    // lookup that found none) allows nothing, where a capability string would read as true.
    if (rest.length === 0) return capabilityOf(set, principal).capability
    const [row, options] = rest
    if (!isRow(row)) return false
    const relations =
      options?.related === undefined ? NO_RELATIONS : relatedRowsResolver(options.related)
    return allowsRow(set, principal, pointRow(row), relations)
  }

  /** A point check that runs relation conditions on the database given to the constructor. */
  async canAsync<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
    row: RowOf<DB, T>,
  ): Promise<boolean> {
    markAuthorized()
    if (!isRow(row)) return false
    const set = this.#set(principal, action, resource)
    return (await this.#decideAsync(set, principal, pointRow(row))).allowed
  }

  /**
   * Throws unless `principal` may `action` this `row` (or, called without a row, some rows):
   * {@link AccessDeniedError} (403) carrying the deciding rule's id and reason, or
   * {@link HiddenResourceError} (404) where the policy hides the resource's existence. A row
   * argument that holds no row (`undefined` from a lookup that found none) is denied.
   */
  authorize<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
    row?: RowOf<DB, T>,
  ): Promise<void>
  async authorize(
    principal: P | null | undefined,
    action: A,
    resource: string,
    ...rest: [row?: Row]
  ): Promise<void> {
    markAuthorized()
    const set = this.#set(principal, action, resource)
    const withRow = rest.length > 0
    const [row] = rest
    const decision = !withRow
      ? capabilityOf(set, principal)
      : isRow(row)
        ? await this.#decideAsync(set, principal, pointRow(row))
        : { allowed: false, ruleId: 'no-row', reason: `no '${resource}' row was given to check` }
    if (decision.allowed) return
    const info = { action, resource, ruleId: decision.ruleId, reason: decision.reason }
    throw withRow && set.hidden ? new HiddenResourceError(info) : new AccessDeniedError(info)
  }

  /** Which rules matched and why; relation conditions need `options.related` for a row. */
  explain<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
    rowOf?: RowOf<DB, T>,
    options?: CheckOptions,
  ): Explanation {
    const row = rowOf === undefined ? undefined : pointRow(rowOf as Row)
    const roles = this.policy.rolesOf(principal)
    const set = this.policy.ruleSetFor(principal, resource, action)
    const relations = relatedRowsResolver(options?.related)
    const verdict = (rule: CompiledRule, effect: RuleVerdict['effect']): RuleVerdict => {
      const base = { id: rule.id, effect, role: rule.role, reason: rule.reason }
      if (missingValue(rule, principal)) return { ...base, outcome: 'missing-principal-value' }
      if (row === undefined) {
        const outcome =
          rule.constant === undefined ? 'conditional' : rule.constant ? 'always' : 'never'
        return { ...base, outcome }
      }
      let truth: Truth
      try {
        truth = rule.predicate(row, principal, relations, undefined)
      } catch (error) {
        if (error instanceof PolicyNeedsDataError) return { ...base, outcome: 'needs-related-rows' }
        throw error
      }
      return { ...base, outcome: truth === null ? 'unknown' : truth ? 'matched' : 'unmatched' }
    }
    const rules = [
      ...(set.tenant === undefined ? [] : [verdict(set.tenant, 'tenant')]),
      ...set.allows.map((rule) => verdict(rule, 'allow')),
      ...set.denies.map((rule) => verdict(rule, 'deny')),
    ]
    if (row === undefined) {
      const decision = capabilityOf(set, principal)
      return {
        decision: decision.capability,
        ruleId: decision.ruleId,
        reason: decision.reason,
        roles,
        rules,
      }
    }
    const decision = decideRow(set, principal, row, relations)
    return {
      decision: decision.allowed,
      ruleId: decision.ruleId,
      reason: decision.reason,
      roles,
      rules,
    }
  }

  /**
   * The policy as a SQL condition for `principal`: pass it to `where` of a select, update or
   * delete on `resource`. Exactly the rows `can` allows pass it.
   */
  where<T extends keyof DB & string>(
    principal: P | null | undefined,
    action: A,
    resource: T,
    options?: WhereOptions,
  ): Expression<SqlBool> {
    markAuthorized()
    const set = this.#set(principal, action, resource)
    const schema = this.#schema
    if (schema === undefined) {
      throw new PolicyDatabaseError(
        'where() and filter() compile for a database: make the AccessControl with await AccessControl.create({ policy, db }), or give accessControlModule the app database.',
      )
    }
    return setSql(set, principal, { table: resource, alias: options?.as ?? resource, schema })
  }

  /** Applies {@link where} to a select, update or delete query on `resource`. */
  filter<Q extends Filterable<Q>, T extends keyof DB & string>(
    query: Q,
    principal: P | null | undefined,
    action: A,
    resource: T,
    options?: WhereOptions,
  ): Q {
    return query.where(this.where(principal, action, resource, options))
  }

  /**
   * The columns of `resource` that `principal` may read, for a select list; `undefined` when the
   * policy sets no field rules on `resource` (every column), `[]` when none of its roles has any.
   */
  permittedFields<T extends keyof DB & string>(
    principal: P | null | undefined,
    resource: T,
  ): readonly ColumnOf<DB, T>[] | undefined {
    return this.policy.fieldsFor(this.policy.rolesOf(principal), resource) as
      | readonly ColumnOf<DB, T>[]
      | undefined
  }

  /**
   * Binds a principal for many checks (a request), so no call passes it again. Each check still
   * reads the principal's roles and takes its rule set from the policy's cache (keyed by the
   * roles array, built once per roles, resource and action), so a role changed mid-request is
   * seen by the next check.
   */
  for(principal: P | null | undefined): BoundAccessControl<DB, P, A> {
    return new BoundAccessControl(this, principal)
  }

  #set(principal: P | null | undefined, action: string, resource: string): RuleSet {
    return this.policy.ruleSetFor(principal, resource, action)
  }

  // Decides without related rows when the columns suffice; otherwise asks the database.
  async #decideAsync(set: RuleSet, principal: unknown, row: Row): Promise<Decision> {
    try {
      return decideRow(set, principal, row, NO_RELATIONS)
    } catch (error) {
      if (!(error instanceof PolicyNeedsDataError) || this.#db === undefined) throw error
      return decideRow(set, principal, row, await this.#relations(set, principal, row))
    }
  }

  async #relations(set: RuleSet, principal: unknown, row: Row): Promise<RelationResolver> {
    const rules = [...(set.tenant === undefined ? [] : [set.tenant]), ...set.allows, ...set.denies]
    const nodes = rules.flatMap((rule) => relationsOf(rule.condition))
    if (nodes.length === 0) return NO_RELATIONS
    const db = this.#db
    const schema = this.#schema
    if (db === undefined || schema === undefined) {
      throw new PolicyNeedsDataError((nodes[0] as ExistsNode).table)
    }
    const answers = new Map<ExistsNode, boolean>()
    for (const node of nodes) {
      const alias = `${node.table}_1`
      const where = compileSql(node.where, principal, {
        table: node.table,
        alias,
        depth: 1,
        outer: { table: set.resource, alias: set.resource, row },
        schema,
      })
      const result =
        await sql`select 1 as found from ${sql.table(node.table)} as ${sql.id(alias)} where ${where} limit 1`.execute(
          db,
        )
      answers.set(node, result.rows.length > 0)
    }
    return answeredResolver(answers)
  }
}

/**
 * An {@link AccessControl} bound to one principal, made by `access.for(principal)`: the same
 * checks without the principal argument. Binding costs an object; rule sets are shared with
 * every principal that has the same roles.
 *
 * @example
 * ```ts
 * import { AccessControl } from '@mortar/auth'
 *
 * const mine = new AccessControl({ policy }).for(user)
 * if (mine.can('read', 'trip', trip)) console.log(trip.id)
 * ```
 */
export class BoundAccessControl<DB = unknown, P = Principal, A extends string = string> {
  readonly #access: AccessControl<DB, P, A>
  readonly #principal: P | null | undefined

  constructor(access: AccessControl<DB, P, A>, principal: P | null | undefined) {
    this.#access = access
    this.#principal = principal
  }

  /** See {@link AccessControl.can}. */
  can<T extends keyof DB & string>(action: A, resource: T): Capability
  can<T extends keyof DB & string>(
    action: A,
    resource: T,
    row: RowOf<DB, T>,
    options?: CheckOptions,
  ): boolean
  can(
    action: A,
    resource: string,
    ...rest: [row?: Row, options?: CheckOptions]
  ): boolean | Capability {
    markAuthorized()
    const set = this.#access.policy.ruleSetFor(this.#principal, resource, action)
    if (rest.length === 0) return capabilityOf(set, this.#principal).capability
    const [row, options] = rest
    if (!isRow(row)) return false
    const relations =
      options?.related === undefined ? NO_RELATIONS : relatedRowsResolver(options.related)
    return allowsRow(set, this.#principal, pointRow(row), relations)
  }

  /** See {@link AccessControl.authorize}. */
  authorize<T extends keyof DB & string>(action: A, resource: T, row?: RowOf<DB, T>): Promise<void>
  authorize(action: A, resource: string, ...rest: [row?: Row]): Promise<void> {
    // Passed on as given: a row argument holding no row is denied, no row at all is a capability.
    return (this.#access as AccessControl<unknown, P, A>).authorize(
      this.#principal,
      action,
      resource as never,
      ...(rest as [never?]),
    )
  }

  /** See {@link AccessControl.where}. */
  where<T extends keyof DB & string>(
    action: A,
    resource: T,
    options?: WhereOptions,
  ): Expression<SqlBool> {
    return this.#access.where(this.#principal, action, resource, options)
  }

  /** See {@link AccessControl.filter}. */
  filter<Q extends Filterable<Q>, T extends keyof DB & string>(
    query: Q,
    action: A,
    resource: T,
    options?: WhereOptions,
  ): Q {
    return query.where(this.where(action, resource, options))
  }

  /** See {@link AccessControl.permittedFields}. */
  permittedFields<T extends keyof DB & string>(
    resource: T,
  ): readonly ColumnOf<DB, T>[] | undefined {
    return this.#access.permittedFields(this.#principal, resource)
  }
}
