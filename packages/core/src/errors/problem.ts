import { isMortarError } from './mortar-error.js'

/** An RFC 9457 problem details object, as Mortar renders it. */
export interface ProblemDetails {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail?: string
  readonly instance?: string
  readonly code: string
  readonly requestId?: string
  readonly [extension: string]: unknown
}

/** Content type of every error response. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** What {@link toProblem} needs to know about the request beyond the error. */
export interface ProblemContext {
  readonly instance?: string
  readonly requestId?: string
}

/** A rendered error: the status, the headers to set and the problem+json body. */
export interface RenderedProblem {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: ProblemDetails
}

// The members toProblem sets itself.
const PROBLEM_MEMBERS = new Set([
  'type',
  'title',
  'status',
  'code',
  'detail',
  'instance',
  'requestId',
])

/**
 * Turns any thrown value into problem+json. A {@link MortarError} keeps its code, status and
 * (when `expose`) its message and details; anything else, a MortarError whose status is not a
 * 4xx or 5xx included, becomes a 500 that shows nothing internal.
 */
export function toProblem(error: unknown, context: ProblemContext = {}): RenderedProblem {
  // An error status is a whole 4xx or 5xx: a 200 or 302 problem reads as a success or a
  // redirect, and a status Node cannot write (99, 600, NaN) fails the response itself.
  const known = isMortarError(error) && isErrorStatus(error.status) ? error : undefined
  const status = known?.status ?? 500
  const title = TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE }
  const body: Record<string, unknown> = {
    type: 'about:blank',
    title,
    status,
    code: known?.code ?? 'E_INTERNAL',
  }
  if (known?.expose) {
    body.detail = known.message
    // Details extend the problem and never replace its members: an error's `status` detail
    // (a delivery's) rendered as the problem's status, a string where clients read the code.
    for (const [name, value] of Object.entries(known.details ?? {})) {
      if (!PROBLEM_MEMBERS.has(name)) body[name] = value
    }
    const retryAfter = known.details?.retryAfter
    if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter)
  } else {
    body.detail = 'An unexpected error occurred.'
  }
  if (context.instance !== undefined) body.instance = context.instance
  if (context.requestId !== undefined) body.requestId = context.requestId
  return { status, headers, body: body as ProblemDetails }
}

function isErrorStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 400 && status <= 599
}
