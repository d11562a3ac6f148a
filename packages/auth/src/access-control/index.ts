export type {
  AccessControlOptions,
  Capability,
  CheckOptions,
  Explanation,
  Filterable,
  RuleVerdict,
  WhereOptions,
} from './access-control.js'
export { AccessControl, BoundAccessControl } from './access-control.js'
