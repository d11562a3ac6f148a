// The whole public API of @mortar/core. Each section re-exports one concern's face.

// errors
export {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  isMortarError,
  MortarError,
  NotFoundError,
  PROBLEM_CONTENT_TYPE,
  TooManyRequestsError,
  toProblem,
  UnauthorizedError,
  ValidationError,
} from './errors/index.js'
export type {
  FieldIssue,
  MortarErrorOptions,
  ProblemContext,
  ProblemDetails,
  RenderedProblem,
} from './errors/index.js'

// request context
export {
  currentRequestContext,
  RequestContext,
  requestContext,
  runInRequestContext,
} from './context/index.js'
export type { ContextSlots, Principal, RequestContextInit, RequestScope } from './context/index.js'

// dependency injection
export { token } from './di/token.js'
export type { Constructor, Key, Resolved, Token } from './di/token.js'

// app and modules
export type { App, AppState, StopOptions } from './app/app.js'

// logger
export { LOGGER } from './logger/logger.js'
export type { LogFn, Logger } from './logger/logger.js'
