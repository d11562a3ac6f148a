export type {
  AccessControlDatabaseOptions,
  AccessControlOptions,
  Capability,
  CheckOptions,
  Explanation,
  Filterable,
  RowOf,
  RuleVerdict,
  WhereOptions,
} from './access-control.js'
export { AccessControl, BoundAccessControl } from './access-control.js'
export type {
  AccessControlModuleOptions,
  VerifyAuthorizedSetting,
} from './access-control-module.js'
export { accessControlModule } from './access-control-module.js'
