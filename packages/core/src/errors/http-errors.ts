import type { z } from 'zod'
import { MortarError, type MortarErrorOptions } from './mortar-error.js'

/** 400: the request is malformed (unparseable body, bad header). */
export class BadRequestError extends MortarError {
  constructor(message = 'The request is malformed.', options?: MortarErrorOptions) {
    super('E_BAD_REQUEST', 400, message, options)
  }
}

/** 401: the request needs an authenticated principal. */
export class UnauthorizedError extends MortarError {
  constructor(message = 'Authentication is required.', options?: MortarErrorOptions) {
    super('E_UNAUTHORIZED', 401, message, options)
  }
}

/** 403: the principal is known but not allowed to do this. */
export class ForbiddenError extends MortarError {
  constructor(message = 'You are not allowed to do this.', options?: MortarErrorOptions) {
    super('E_FORBIDDEN', 403, message, options)
  }
}

/** 404: the resource does not exist (or its existence is hidden). */
export class NotFoundError extends MortarError {
  constructor(message = 'Not found.', options?: MortarErrorOptions) {
    super('E_NOT_FOUND', 404, message, options)
  }
}

/** 409: the write conflicts with the current state (a stale version, a duplicate key). */
export class ConflictError extends MortarError {
  constructor(message = 'The resource was changed by someone else.', options?: MortarErrorOptions) {
    super('E_CONFLICT', 409, message, options)
  }
}

/** 429: too many attempts; `retryAfterSeconds` becomes the `Retry-After` header. */
export class TooManyRequestsError extends MortarError {
  readonly retryAfterSeconds: number

  constructor(retryAfterSeconds: number, message?: string, options?: MortarErrorOptions) {
    const seconds = Math.max(0, Math.ceil(retryAfterSeconds))
    super('E_TOO_MANY_REQUESTS', 429, message ?? `Too many requests; retry in ${seconds} s.`, {
      ...options,
      details: { ...options?.details, retryAfter: seconds },
    })
    this.retryAfterSeconds = seconds
  }
}

/**
 * 413: the request body is larger than the server accepts. The HTTP adapters raise it for a body
 * over the framework's (or `readJson`'s) limit.
 *
 * @example
 * ```ts
 * import { PayloadTooLargeError } from '@mortar/core'
 *
 * throw new PayloadTooLargeError()
 * ```
 */
export class PayloadTooLargeError extends MortarError {
  constructor(
    message = 'The request body is too large; send a smaller body.',
    options?: MortarErrorOptions,
  ) {
    super('E_PAYLOAD_TOO_LARGE', 413, message, options)
  }
}

/**
 * 415: the request body has a content type the route does not accept.
 *
 * @example
 * ```ts
 * import { UnsupportedMediaTypeError } from '@mortar/core'
 *
 * throw new UnsupportedMediaTypeError()
 * ```
 */
export class UnsupportedMediaTypeError extends MortarError {
  constructor(
    message = 'The request content type is not supported; send application/json.',
    options?: MortarErrorOptions,
  ) {
    super('E_UNSUPPORTED_MEDIA_TYPE', 415, message, options)
  }
}

/** One invalid field of a {@link ValidationError}. */
export interface FieldIssue {
  /** Dotted path to the field (`items.0.quantity`); empty for the whole value. */
  readonly path: string
  readonly message: string
  readonly code: string
}

/**
 * 422: the input parsed but does not fit. Build it from zod issues with
 * {@link ValidationError.fromZod}; each issue keeps its field path and never the received value.
 *
 * @example
 * ```ts
 * import { ValidationError } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const parsed = z.object({ email: z.email() }).safeParse(body)
 * if (!parsed.success) throw ValidationError.fromZod(parsed.error)
 * ```
 */
export class ValidationError extends MortarError {
  readonly issues: readonly FieldIssue[]

  constructor(
    issues: readonly FieldIssue[],
    message = 'The input is invalid.',
    options?: MortarErrorOptions,
  ) {
    super('E_VALIDATION', 422, message, {
      ...options,
      details: { ...options?.details, errors: issues },
    })
    this.issues = issues
  }

  static fromZod(error: z.ZodError, message?: string): ValidationError {
    const issues = error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
      code: issue.code,
    }))
    return new ValidationError(issues, message, { cause: error })
  }
}
