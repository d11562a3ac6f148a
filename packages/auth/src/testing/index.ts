// @mortar/auth/testing: the policy agreement kit.
export type {
  AgreementCheckOptions,
  Disagreement,
  PolicyAgreementOptions,
  World,
} from './policy-agreement.js'
export {
  assertPolicyAgreement,
  clearWorld,
  findDisagreement,
  insertWorld,
} from './policy-agreement.js'

// login throttling: the store contract every ThrottleStore passes
export { throttleStoreConformance } from './throttle-store-conformance.js'
export type {
  ThrottleStoreConformanceOptions,
  ThrottleStoreSubject,
} from './throttle-store-conformance.js'
