export {
  currentRequestContext,
  RequestContext,
  requestContext,
  runInRequestContext,
} from './request-context.js'
export type { ContextSlots, Principal, RequestContextInit, RequestScope } from './request-context.js'
