export type {
  ColumnOf,
  CompareOperator,
  Condition,
  ConditionNode,
  Operand,
  OperandNode,
  ValueOf,
} from './condition.js'
export { ConditionBuilder, RelationBuilder } from './condition.js'
export type { RelatedRows, Row, Truth } from './compile-condition.js'
export type {
  DefinePolicyOptions,
  RoleOptions,
  RuleBody,
  RuleOptions,
  TenantOptions,
} from './define-policy.js'
export { definePolicy, PolicyBuilder, RoleBuilder } from './define-policy.js'
export type {
  CompiledRule,
  PolicyDefinition,
  PolicyRule,
  RuleSet,
  TenantDefinition,
} from './policy.js'
export { Policy } from './policy.js'
export type { PrincipalRef, PrincipalRefs } from './principal-ref.js'
