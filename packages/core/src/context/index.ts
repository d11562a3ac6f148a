export { NoRequestContextError } from './no-request-context-error.js'
export {
  currentRequestContext,
  enterRequestContext,
  RequestContext,
  requestContext,
  runInRequestContext,
} from './request-context.js'
export type {
  ContextSlots,
  HttpExchange,
  Principal,
  RequestContextInit,
  RequestScope,
} from './request-context.js'
export type { RequestHook } from './request-hooks.js'
export {
  claimBeforeResponseHooks,
  hasBeforeResponseHooks,
  onBeforeResponse,
  onRequestStart,
  runBeforeResponseHooks,
  runRequestStartHooks,
} from './request-hooks.js'
