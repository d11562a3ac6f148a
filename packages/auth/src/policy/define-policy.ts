import type { Principal } from '@mortar/core'
import { PolicyDefinitionError } from '../errors.js'
import {
  type ColumnOf,
  type Condition,
  ConditionBuilder,
  type ConditionNode,
  type ValueOf,
} from './condition.js'
import { Policy, type PolicyDefinition, type PolicyRule, type TenantDefinition } from './policy.js'
import { type PrincipalRef, type PrincipalRefs, principalRefs, refPath } from './principal-ref.js'

/**
 * A rule's body: `true` (every row), `false` (none), or a condition over the resource's columns
 * with the principal's values.
 */
export type RuleBody<DB, P, T extends keyof DB & string> =
  | boolean
  | ((t: ConditionBuilder<DB, T>, p: PrincipalRefs<P>) => Condition<T>)

/** Options of one rule. */
export interface RuleOptions {
  /** A stable id for denials, logs and `explain`; derived from the rule when absent. */
  readonly id?: string
  /** Why the rule exists, carried by a denial it causes. */
  readonly reason?: string
}

/** Options of a role. */
export interface RoleOptions {
  /** Roles whose rules and fields this role also has. */
  readonly inherits?: readonly string[]
}

/** Options of {@link definePolicy}. */
export interface DefinePolicyOptions<P> {
  /** Reads a principal's roles; by default its `roles` field. */
  readonly roles?: (principal: P) => readonly string[] | undefined
}

/** Options of a tenant condition. */
export interface TenantOptions {
  /** Roles that see every tenant (an operator), named explicitly. */
  readonly except?: readonly string[]
}

const builders = new Map<string, ConditionBuilder<unknown, never>>()

function bodyToNode(body: unknown, resource: string): ConditionNode {
  if (typeof body === 'boolean') return { kind: 'const', value: body }
  if (typeof body !== 'function') {
    throw new PolicyDefinitionError(
      `A rule on '${resource}' needs true, false or a condition function.`,
    )
  }
  let builder = builders.get(resource)
  if (builder === undefined) {
    builder = new ConditionBuilder()
    builders.set(resource, builder)
  }
  const result = (body as (t: unknown, p: unknown) => Condition<string>)(builder, principalRefs())
  if (result === null || typeof result !== 'object' || !('node' in result)) {
    throw new PolicyDefinitionError(
      `A rule on '${resource}' returned something that is not a condition: build it with t.eq(), t.and(), …`,
    )
  }
  return result.node
}

function addRule<P>(
  draft: PolicyDefinition<P>,
  effect: 'allow' | 'deny',
  role: string | undefined,
  action: string | readonly string[],
  resource: string,
  body: unknown,
  options: RuleOptions | undefined,
): PolicyDefinition<P> {
  const actions = typeof action === 'string' ? [action] : [...action]
  const index = draft.rules.filter((rule) => rule.resource === resource).length
  const id = options?.id ?? `${role ?? 'any'}:${effect}:${actions.join('+')}:${resource}#${index}`
  const rule: PolicyRule = {
    id,
    effect,
    role,
    actions,
    resource,
    reason: options?.reason,
    condition: bodyToNode(body, resource),
  }
  return { ...draft, rules: [...draft.rules, rule] }
}

/**
 * The rules of one role, inside {@link PolicyBuilder.role}.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * definePolicy<Db, { id: string }>().role('rider', (r) =>
 *   r.allow('read', 'trip', (t, p) => t.eq('rider_id', p.id)).fields('trip', ['id', 'status']),
 * )
 * ```
 */
export class RoleBuilder<DB, P, A extends string> {
  readonly #role: string
  readonly #draft: PolicyDefinition<P>

  /** Made by {@link PolicyBuilder.role}. */
  constructor(role: string, draft: PolicyDefinition<P>) {
    this.#role = role
    this.#draft = draft
  }

  /** Allows `action` on `resource` where `rule` holds. */
  allow<T extends keyof DB & string>(
    action: A | readonly A[],
    resource: T,
    rule: RuleBody<DB, P, T>,
    options?: RuleOptions,
  ): RoleBuilder<DB, P, A> {
    return this.#with(addRule(this.#draft, 'allow', this.#role, action, resource, rule, options))
  }

  /** Denies `action` on `resource` where `rule` holds; a deny wins over every allow. */
  deny<T extends keyof DB & string>(
    action: A | readonly A[],
    resource: T,
    rule: RuleBody<DB, P, T>,
    options?: RuleOptions,
  ): RoleBuilder<DB, P, A> {
    return this.#with(addRule(this.#draft, 'deny', this.#role, action, resource, rule, options))
  }

  /** The columns of `resource` this role may read; the union over a principal's roles is its select list. */
  fields<T extends keyof DB & string>(
    resource: T,
    columns: readonly ColumnOf<DB, T>[],
  ): RoleBuilder<DB, P, A> {
    const fields = new Map(this.#draft.fields)
    const byRole = new Map(fields.get(resource) ?? [])
    byRole.set(this.#role, [...(byRole.get(this.#role) ?? []), ...columns])
    fields.set(resource, byRole)
    return this.#with({ ...this.#draft, fields })
  }

  /** The draft so far; used by {@link PolicyBuilder}. */
  toDraft(): PolicyDefinition<P> {
    return this.#draft
  }

  #with(draft: PolicyDefinition<P>): RoleBuilder<DB, P, A> {
    return new RoleBuilder(this.#role, draft)
  }
}

/**
 * Builds a {@link Policy}: roles with inheritance, allow and deny rules per resource (a table of
 * `DB`) and action, tenant conditions, resources whose existence is hidden, and readable fields.
 * Each call returns a new builder; `build()` checks the whole and compiles it once.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * export const ridesPolicy = definePolicy<RidesDb, RidesPrincipal>()
 *   .role('rider', (r) => r.allow('read', 'trip', (t, p) => t.eq('rider_id', p.id)))
 *   .role('admin', { inherits: ['rider'] }, (r) => r.allow('read', 'trip', true))
 *   .deny('read', 'trip', (t) => t.eq('deleted', true), { id: 'no-deleted', reason: 'the trip was deleted' })
 *   .tenant('trip', 'city_id', (p) => p.cityId)
 *   .hideExistence('trip')
 *   .build()
 * ```
 */
export class PolicyBuilder<DB, P = Principal, A extends string = string> {
  readonly #draft: PolicyDefinition<P>

  /** Made by {@link definePolicy}. */
  constructor(draft: PolicyDefinition<P>) {
    this.#draft = draft
  }

  /** Adds a role and its rules; `inherits` names roles whose rules it also gets. */
  role(
    name: string,
    build: (role: RoleBuilder<DB, P, A>) => RoleBuilder<DB, P, A>,
  ): PolicyBuilder<DB, P, A>
  role(
    name: string,
    options: RoleOptions,
    build: (role: RoleBuilder<DB, P, A>) => RoleBuilder<DB, P, A>,
  ): PolicyBuilder<DB, P, A>
  role(
    name: string,
    optionsOrBuild: RoleOptions | ((role: RoleBuilder<DB, P, A>) => RoleBuilder<DB, P, A>),
    maybeBuild?: (role: RoleBuilder<DB, P, A>) => RoleBuilder<DB, P, A>,
  ): PolicyBuilder<DB, P, A> {
    const options = typeof optionsOrBuild === 'function' ? {} : optionsOrBuild
    const build = typeof optionsOrBuild === 'function' ? optionsOrBuild : maybeBuild
    if (build === undefined)
      throw new PolicyDefinitionError(`Role '${name}' needs a build function.`)
    if (this.#draft.inherits.has(name)) {
      throw new PolicyDefinitionError(`Role '${name}' is defined twice: define each role once.`)
    }
    const inherits = new Map(this.#draft.inherits)
    inherits.set(name, [...(options.inherits ?? [])])
    const draft = build(new RoleBuilder<DB, P, A>(name, { ...this.#draft, inherits })).toDraft()
    return new PolicyBuilder(draft)
  }

  /** Allows `action` on `resource` to every principal (and anonymous callers) where `rule` holds. */
  allow<T extends keyof DB & string>(
    action: A | readonly A[],
    resource: T,
    rule: RuleBody<DB, P, T>,
    options?: RuleOptions,
  ): PolicyBuilder<DB, P, A> {
    return new PolicyBuilder(
      addRule(this.#draft, 'allow', undefined, action, resource, rule, options),
    )
  }

  /** Denies `action` on `resource` to every principal where `rule` holds; wins over every allow. */
  deny<T extends keyof DB & string>(
    action: A | readonly A[],
    resource: T,
    rule: RuleBody<DB, P, T>,
    options?: RuleOptions,
  ): PolicyBuilder<DB, P, A> {
    return new PolicyBuilder(
      addRule(this.#draft, 'deny', undefined, action, resource, rule, options),
    )
  }

  /**
   * Bounds every action on `resource` by `column = value`, the value read from the principal: a
   * principal without it sees nothing.
   */
  tenant<T extends keyof DB & string, C extends ColumnOf<DB, T>>(
    resource: T,
    column: C,
    value: (p: PrincipalRefs<P>) => PrincipalRef<ValueOf<DB, T, C> | null | undefined>,
    options?: TenantOptions,
  ): PolicyBuilder<DB, P, A> {
    const path = refPath(value(principalRefs()))
    if (path === undefined) {
      throw new PolicyDefinitionError(
        `The tenant of '${resource}' must be read from the principal: (p) => p.tenantId.`,
      )
    }
    if (this.#draft.tenants.some((tenant) => tenant.resource === resource)) {
      throw new PolicyDefinitionError(`'${resource}' has two tenant conditions: keep one.`)
    }
    const tenant: TenantDefinition = {
      resource,
      condition: { kind: 'compare', op: '=', column, operand: { kind: 'ref', path } },
      exceptRoles: [...(options?.except ?? [])],
    }
    return new PolicyBuilder({ ...this.#draft, tenants: [...this.#draft.tenants, tenant] })
  }

  /** Denials on `resource` (for `actions`, or all) become 404s, so a client cannot probe for ids. */
  hideExistence<T extends keyof DB & string>(
    resource: T,
    actions?: readonly A[],
  ): PolicyBuilder<DB, P, A> {
    const hidden = new Map(this.#draft.hidden)
    hidden.set(resource, actions === undefined ? undefined : [...actions])
    return new PolicyBuilder({ ...this.#draft, hidden })
  }

  /** The columns of `resource` that `role` may read (also available inside `role()`). */
  fields<T extends keyof DB & string>(
    resource: T,
    role: string,
    columns: readonly ColumnOf<DB, T>[],
  ): PolicyBuilder<DB, P, A> {
    return new PolicyBuilder(
      new RoleBuilder<DB, P, A>(role, this.#draft).fields(resource, columns).toDraft(),
    )
  }

  /** Checks the policy (roles, inheritance, ids) and compiles it once. */
  build(): Policy<DB, P, A> {
    const draft = this.#draft
    for (const [role, parents] of draft.inherits) {
      for (const parent of parents) {
        if (!draft.inherits.has(parent)) {
          throw new PolicyDefinitionError(
            `Role '${role}' inherits '${parent}', which is not defined: define it or fix the name.`,
          )
        }
      }
    }
    const visiting = new Set<string>()
    const done = new Set<string>()
    const visit = (role: string, chain: readonly string[]) => {
      if (done.has(role)) return
      if (visiting.has(role)) {
        throw new PolicyDefinitionError(
          `Roles inherit in a cycle: ${[...chain, role].join(' -> ')}.`,
        )
      }
      visiting.add(role)
      for (const parent of draft.inherits.get(role) ?? []) visit(parent, [...chain, role])
      visiting.delete(role)
      done.add(role)
    }
    for (const role of draft.inherits.keys()) visit(role, [])
    const ids = new Set<string>()
    for (const rule of draft.rules) {
      if (ids.has(rule.id))
        throw new PolicyDefinitionError(`Two rules have the id '${rule.id}': ids must be unique.`)
      ids.add(rule.id)
    }
    for (const [resource, byRole] of draft.fields) {
      for (const role of byRole.keys()) {
        if (!draft.inherits.has(role)) {
          throw new PolicyDefinitionError(
            `Fields of '${resource}' are given to '${role}', which is not a defined role.`,
          )
        }
      }
    }
    for (const tenant of draft.tenants) {
      for (const role of tenant.exceptRoles) {
        if (!draft.inherits.has(role)) {
          throw new PolicyDefinitionError(
            `The tenant of '${tenant.resource}' exempts '${role}', which is not a defined role.`,
          )
        }
      }
    }
    return new Policy<DB, P, A>(draft)
  }
}

function defaultRoles(principal: unknown): readonly string[] | undefined {
  const roles = (principal as { roles?: unknown }).roles
  return Array.isArray(roles) ? (roles as string[]) : undefined
}

/**
 * Starts a policy typed by the app's Kysely database interface `DB`, its principal `P` and,
 * optionally, its actions `A`. Each rule is written once and compiled twice: to a row predicate
 * for point checks and to a SQL condition for lists, updates and deletes.
 *
 * @example
 * ```ts
 * import { definePolicy } from '@mortar/auth'
 *
 * const policy = definePolicy<RidesDb, { id: string; roles: string[] }, 'read' | 'cancel'>()
 *   .role('rider', (r) => r.allow('read', 'trip', (t, p) => t.eq('rider_id', p.id)))
 *   .build()
 * ```
 */
export function definePolicy<DB, P = Principal, A extends string = string>(
  options: DefinePolicyOptions<P> = {},
): PolicyBuilder<DB, P, A> {
  return new PolicyBuilder<DB, P, A>({
    rules: [],
    inherits: new Map(),
    tenants: [],
    hidden: new Map(),
    fields: new Map(),
    roles: options.roles ?? defaultRoles,
  })
}
