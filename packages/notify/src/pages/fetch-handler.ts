import {
  currentRequestContext,
  type FetchHandler,
  ForbiddenError,
  LOGGER,
  type RequestContext,
  toProblem,
} from '@mortar/core'

export type { FetchHandler }

/** Decides whether the current request may see a page; deny by default. */
export type PageGuard = (context: RequestContext) => boolean | Promise<boolean>

/**
 * A problem+json response for `error`; a server error is logged with the request id, as core's
 * adapters log what reaches them (a handler that answers it itself would otherwise leave no trace
 * of it but the 500).
 */
export function problemResponse(error: unknown, request: Request): Response {
  const context = currentRequestContext()
  const path = new URL(request.url).pathname
  const problem = toProblem(error, { instance: path, requestId: context?.requestId })
  if (problem.status >= 500) {
    context
      ?.resolve(LOGGER)
      .error(
        { err: error, requestId: context.requestId, method: request.method, path },
        'Request failed with an unexpected error',
      )
  }
  return new Response(JSON.stringify(problem.body), {
    status: problem.status,
    headers: problem.headers,
  })
}

/**
 * Runs the guard on the current request context: refuses (403 problem) outside a request, when
 * there is no guard and `allowWithoutGuard` is false, when the guard says no or throws (which is
 * logged as a warning).
 */
export async function guardPage(
  request: Request,
  guard: PageGuard | undefined,
  allowWithoutGuard: boolean,
): Promise<Response | undefined> {
  const context = currentRequestContext()
  let allowed = false
  if (guard === undefined) allowed = allowWithoutGuard
  else if (context !== undefined) {
    try {
      allowed = (await guard(context)) === true
    } catch (error) {
      allowed = false
      // Refused all the same (fail closed), but not without a trace: a guard that cannot read
      // the session (its store down) would otherwise turn every admin away with a bare 403.
      context
        .resolve(LOGGER)
        .warn(
          { err: error, requestId: context.requestId, path: new URL(request.url).pathname },
          'A page guard failed; the request is refused',
        )
    }
  }
  return allowed
    ? undefined
    : problemResponse(new ForbiddenError('You are not allowed to see this page.'), request)
}

/** An HTML response with headers that keep the page's own content from running anything. */
export function htmlResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    },
  })
}

/** A JSON response that is never cached. */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}
