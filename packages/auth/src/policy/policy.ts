import type { Principal } from '@mortar/core'
import type { ConditionNode } from './condition.js'
import { compilePredicate, type RowPredicate } from './compile-condition.js'
import { pathGetter } from './principal-ref.js'

/** One rule of a built {@link Policy}, as `explain` and tooling see it. */
export interface PolicyRule {
  /** Stable id: given in the rule's options, or derived from role, effect, action and resource. */
  readonly id: string
  readonly effect: 'allow' | 'deny'
  /** The role the rule belongs to; `undefined` for a rule that applies to every principal. */
  readonly role: string | undefined
  readonly actions: readonly string[]
  readonly resource: string
  readonly reason: string | undefined
  readonly condition: ConditionNode
}

/** A rule compiled once, when the policy is built. */
export interface CompiledRule extends PolicyRule {
  readonly predicate: RowPredicate
  /** Getters of every principal value the rule reads: a missing one makes the rule fail closed. */
  readonly refs: readonly ((principal: unknown) => unknown)[]
  /**
   * Whether a point check must look for missing principal values before the predicate. Not
   * needed for an allow whose principal values sit only under `and`: a missing value makes its
   * comparison unknown, and an unknown allow does not match, which is failing closed already.
   */
  readonly checkRefs: boolean
  /** The rule's constant answer when its condition reads no column. */
  readonly constant: boolean | undefined
  /** Whether the condition reads related tables (`exists`); such rules are tried last. */
  readonly relational: boolean
}

/** The rules that decide one action on one resource for one set of roles. */
export interface RuleSet {
  readonly resource: string
  readonly action: string
  readonly tenant: CompiledRule | undefined
  readonly allows: readonly CompiledRule[]
  readonly denies: readonly CompiledRule[]
  readonly hidden: boolean
}

/** A tenant condition: every rule on `resource` is bounded by `column = principal value`. */
export interface TenantDefinition {
  readonly resource: string
  readonly condition: ConditionNode
  readonly exceptRoles: readonly string[]
}

interface RolesEntry {
  /** The roles array's items when the entry was made, to notice the array changing. */
  readonly own: readonly string[]
  readonly roles: readonly string[]
  readonly sets: Map<string, Map<string, RuleSet>>
}

/** What {@link definePolicy}'s builder hands to the {@link Policy} it builds. */
export interface PolicyDefinition<P> {
  readonly rules: readonly PolicyRule[]
  readonly inherits: ReadonlyMap<string, readonly string[]>
  readonly tenants: readonly TenantDefinition[]
  readonly hidden: ReadonlyMap<string, readonly string[] | undefined>
  readonly fields: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>
  readonly roles: (principal: P) => readonly string[] | undefined
}

function collectRefs(node: ConditionNode, into: ((principal: unknown) => unknown)[]): void {
  switch (node.kind) {
    case 'compare':
    case 'in':
      if (node.operand.kind === 'ref') {
        into.push(pathGetter(node.operand.path, node.kind === 'in' ? 'list' : 'value'))
      }
      return
    case 'and':
    case 'or':
      for (const item of node.items) collectRefs(item, into)
      return
    case 'not':
      collectRefs(node.item, into)
      return
    case 'exists':
      collectRefs(node.where, into)
      return
    default:
      return
  }
}

function readsRelations(node: ConditionNode): boolean {
  switch (node.kind) {
    case 'exists':
      return true
    case 'and':
    case 'or':
      return node.items.some(readsRelations)
    case 'not':
      return readsRelations(node.item)
    default:
      return false
  }
}

// True when every principal value sits under `and` only (no `or`, `not` or relation above it).
function refsOnlyUnderAnd(node: ConditionNode): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every(refsOnlyUnderAnd)
    case 'compare':
    case 'in':
      return true
    default: {
      const refs: ((principal: unknown) => unknown)[] = []
      collectRefs(node, refs)
      return refs.length === 0
    }
  }
}

function compileRule(rule: PolicyRule): CompiledRule {
  const refs: ((principal: unknown) => unknown)[] = []
  collectRefs(rule.condition, refs)
  const constant = rule.condition.kind === 'const' ? rule.condition.value : undefined
  const relational = readsRelations(rule.condition)
  const checkRefs =
    refs.length > 0 && !(rule.effect === 'allow' && refsOnlyUnderAnd(rule.condition))
  const predicate = compilePredicate(rule.condition)
  return { ...rule, predicate, refs, checkRefs, constant, relational }
}

// Rules that need related rows go last: an OR decided by a column needs no extra data.
const byCost = (a: CompiledRule, b: CompiledRule) => Number(a.relational) - Number(b.relational)

const CACHE_LIMIT = 4096

/**
 * A built policy: its rules compiled once to row predicates and indexed by resource and action,
 * so that a check walks only the few rules that could apply. Give it to an
 * {@link AccessControl}; build it with {@link definePolicy}.
 *
 * @example
 * ```ts
 * import { AccessControl, definePolicy } from '@mortar/auth'
 *
 * const policy = definePolicy<Db, { id: string; roles: string[] }>()
 *   .role('rider', (r) => r.allow('read', 'trip', (t, p) => t.eq('rider_id', p.id)))
 *   .build()
 * const access = new AccessControl({ policy })
 * ```
 */
export class Policy<DB = unknown, P = Principal, A extends string = string> {
  /** Every rule, in definition order. */
  readonly rules: readonly PolicyRule[]
  /** The tables the policy has rules or a tenant for: what the authorization guard watches. */
  readonly resources: readonly string[]
  #byResource = new Map<string, Map<string, CompiledRule[]>>()
  #tenants = new Map<string, { rule: CompiledRule; except: ReadonlySet<string> }>()
  #hidden: ReadonlyMap<string, readonly string[] | undefined>
  #fields: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>
  #inherits: ReadonlyMap<string, readonly string[]>
  #roles: (principal: P) => readonly string[] | undefined
  #ruleSets = new Map<string, RuleSet>()
  #expanded = new Map<string, readonly string[]>()
  // Keyed by the identity of a principal's roles array: a check then costs two map lookups
  // instead of joining role names into a key.
  #byRoles = new WeakMap<readonly string[], RolesEntry>()
  #anonymous: RolesEntry = { own: [], roles: [], sets: new Map() }
  declare readonly __types?: { db: DB; principal: P; action: A }

  /** Prefer {@link definePolicy}; this takes its checked definition. */
  constructor(definition: PolicyDefinition<P>) {
    this.rules = definition.rules
    this.resources = [
      ...new Set([
        ...definition.rules.map((rule) => rule.resource),
        ...definition.tenants.map((tenant) => tenant.resource),
      ]),
    ]
    this.#hidden = definition.hidden
    this.#fields = definition.fields
    this.#inherits = definition.inherits
    this.#roles = definition.roles
    for (const rule of definition.rules) {
      const compiled = compileRule(rule)
      let byAction = this.#byResource.get(rule.resource)
      if (byAction === undefined) {
        byAction = new Map()
        this.#byResource.set(rule.resource, byAction)
      }
      for (const action of rule.actions) {
        const list = byAction.get(action) ?? []
        list.push(compiled)
        byAction.set(action, list)
      }
    }
    for (const tenant of definition.tenants) {
      const rule = compileRule({
        id: `tenant:${tenant.resource}`,
        effect: 'allow',
        role: undefined,
        actions: [],
        resource: tenant.resource,
        reason: `the row belongs to another tenant`,
        condition: tenant.condition,
      })
      this.#tenants.set(tenant.resource, { rule, except: new Set(tenant.exceptRoles) })
    }
  }

  /**
   * The rules deciding `action` on `resource` for `principal`. Cached by the identity of the
   * principal's roles array, which must therefore not be changed in place.
   */
  ruleSetFor(principal: P | null | undefined, resource: string, action: string): RuleSet {
    const entry = this.#entry(principal)
    let byAction = entry.sets.get(resource)
    if (byAction === undefined) {
      byAction = new Map()
      entry.sets.set(resource, byAction)
    }
    let set = byAction.get(action)
    if (set === undefined) {
      set = this.ruleSet(entry.roles, resource, action)
      byAction.set(action, set)
    }
    return set
  }

  #entry(principal: P | null | undefined): RolesEntry {
    const own = principal === null || principal === undefined ? undefined : this.#roles(principal)
    if (own === undefined) return this.#anonymous
    // Another iterable (a Set) would expand, but every one would share one cache key.
    if (!Array.isArray(own)) {
      throw new TypeError("A principal's roles must be an array of role names (principal.roles).")
    }
    let entry = this.#byRoles.get(own)
    // The same array changed since (a role taken away in place): its cached rules would keep
    // granting what the role gave.
    if (entry === undefined || !sameItems(entry.own, own)) {
      entry = { own: [...own], roles: this.#expand(own), sets: new Map() }
      this.#byRoles.set(own, entry)
    }
    return entry
  }

  /** The principal's roles with every inherited role, each once. */
  rolesOf(principal: P | null | undefined): readonly string[] {
    return this.#entry(principal).roles
  }

  #expand(own: readonly string[]): readonly string[] {
    // JSON, not a join: role names are data, and ['x\u0000admin'] must not read ['x', 'admin']'s entry.
    const key = JSON.stringify(own)
    let expanded = this.#expanded.get(key)
    if (expanded === undefined) {
      const seen = new Set<string>()
      const visit = (role: string) => {
        if (seen.has(role)) return
        seen.add(role)
        for (const parent of this.#inherits.get(role) ?? []) visit(parent)
      }
      for (const role of own) visit(role)
      expanded = [...seen]
      if (this.#expanded.size >= CACHE_LIMIT) this.#expanded.clear()
      this.#expanded.set(key, expanded)
    }
    return expanded
  }

  /** The rules deciding `action` on `resource` for principals with exactly these (expanded) roles. */
  ruleSet(roles: readonly string[], resource: string, action: string): RuleSet {
    const key = JSON.stringify([roles, resource, action])
    let set = this.#ruleSets.get(key)
    if (set === undefined) {
      const roleSet = new Set(roles)
      const applies = (rule: CompiledRule) => rule.role === undefined || roleSet.has(rule.role)
      const rules = this.#byResource.get(resource)?.get(action) ?? []
      const tenant = this.#tenants.get(resource)
      const exempt = tenant !== undefined && roles.some((role) => tenant.except.has(role))
      const hiddenActions = this.#hidden.get(resource)
      set = {
        resource,
        action,
        tenant: tenant === undefined || exempt ? undefined : tenant.rule,
        allows: rules.filter((rule) => rule.effect === 'allow' && applies(rule)).sort(byCost),
        denies: rules.filter((rule) => rule.effect === 'deny' && applies(rule)).sort(byCost),
        hidden:
          this.#hidden.has(resource) &&
          (hiddenActions === undefined || hiddenActions.includes(action)),
      }
      if (this.#ruleSets.size >= CACHE_LIMIT) this.#ruleSets.clear()
      this.#ruleSets.set(key, set)
    }
    return set
  }

  /** The readable columns of `resource` for these (expanded) roles; `undefined` when unrestricted. */
  fieldsFor(roles: readonly string[], resource: string): readonly string[] | undefined {
    const byRole = this.#fields.get(resource)
    if (byRole === undefined) return undefined
    const fields = new Set<string>()
    for (const role of roles) for (const field of byRole.get(role) ?? []) fields.add(field)
    return [...fields]
  }
}

function sameItems(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}
