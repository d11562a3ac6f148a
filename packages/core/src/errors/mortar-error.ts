/** Options shared by every {@link MortarError}. */
export interface MortarErrorOptions {
  /** The error this one wraps; kept for logs, never rendered to clients. */
  readonly cause?: unknown
  /** Structured, client-safe fields rendered as problem+json extension members. */
  readonly details?: Readonly<Record<string, unknown>>
}

/**
 * The base of every error Mortar raises on purpose: a stable `code`, an HTTP `status`, and
 * whether its message may be shown to a client (`expose`).
 *
 * @example
 * ```ts
 * import { MortarError } from '@mortar/core'
 *
 * class PaymentDeclinedError extends MortarError {
 *   constructor() {
 *     super('E_PAYMENT_DECLINED', 402, 'The card was declined; try another payment method.')
 *   }
 * }
 * ```
 */
const BRAND = Symbol.for('mortar.error')

export class MortarError extends Error {
  readonly code: string
  readonly status: number
  readonly expose: boolean
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: string, status: number, message: string, options: MortarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = status
    // 5xx messages describe our failure, not the client's request: hide them by default.
    this.expose = status < 500
    this.details = options.details
  }

  // An app that loads both the ESM and the CJS build has two copies of this class; the brand
  // lets adapters recognise an error from either copy.
  get [BRAND](): true {
    return true
  }
}

/** True for a {@link MortarError}, including one from another copy of `@mortar/core`. */
export function isMortarError(value: unknown): value is MortarError {
  return (
    value instanceof MortarError ||
    (typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true)
  )
}
