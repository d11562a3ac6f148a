export { isMortarError, MortarError } from './mortar-error.js'
export type { MortarErrorOptions } from './mortar-error.js'
export {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './http-errors.js'
export type { FieldIssue } from './http-errors.js'
export { PROBLEM_CONTENT_TYPE, toProblem } from './problem.js'
export { thrownText } from './thrown-text.js'
export type { ProblemContext, ProblemDetails, RenderedProblem } from './problem.js'
