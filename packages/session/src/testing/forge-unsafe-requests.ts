/** A route to try: a method and its path pattern, as `listRoutes` from `@mortar/core/testing` gives it. */
export interface ForgeableRoute {
  readonly method: string
  readonly path: string
}

/**
 * What a forged request may declare its body as: each encoding an HTML form can post
 * cross-site without a preflight, none at all, and odd ones a lenient parser might still read.
 */
export const FORGED_CONTENT_TYPES: readonly (string | undefined)[] = [
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=forged',
  'text/plain',
  'text/plain; charset=utf-8',
  'TEXT/PLAIN;charset=UTF-8',
  'application/json',
  'application/json; charset=utf-8',
  'application/octet-stream',
  'application/x-www-form-urlencoded, application/json',
  'text/html',
  'x/unknown',
  undefined,
]

/** Options of {@link forgeUnsafeRequests}. */
export interface ForgeUnsafeRequestsOptions {
  /** The server's base URL, `http://127.0.0.1:1234`. */
  readonly url: string
  /** The `Cookie` header of a logged-in session: the authority a forged request tries to use. */
  readonly cookie: string
  /** The routes to try; the safe methods (GET, HEAD, OPTIONS, TRACE) among them are skipped. */
  readonly routes: readonly ForgeableRoute[]
  /**
   * Values for path parameters by name (`{ id: cardId }`), so a request that got through would
   * act on something real; `'1'` for the others, `x` for a wildcard.
   */
  readonly params?: Readonly<Record<string, string>>
  /** The body each request sends: by default JSON that also reads as a form field. */
  readonly body?: string
  /** The content types to try each route with; {@link FORGED_CONTENT_TYPES} by default. */
  readonly contentTypes?: readonly (string | undefined)[]
  /**
   * Where an answer that is not problem+json (an app's HTML error page, shown for a form post)
   * names its error code: without it, such an answer has no code and is never `refused`.
   */
  readonly codeInPage?: (page: string) => string | undefined
}

/** One forged request and how the server answered it. */
export interface ForgedAnswer {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  readonly status: number
  /** The problem's `code`, when the answer was problem+json. */
  readonly code: unknown
  readonly setCookie: readonly string[]
  /** A 403 `E_CSRF_REJECTED` that set no cookie: what the session module's guard answers. */
  readonly refused: boolean
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/**
 * Sends, for every unsafe route and every content type, what a page on another site can make a
 * browser send: the session cookie, no `Origin`, no `Sec-Fetch-Site`, no CSRF token. Returns each
 * answer; with the session module's guard, each is `refused`: a 403 `E_CSRF_REJECTED` without a
 * cookie.
 * Walk the routes from the server itself (`listRoutes`), so a route added later is tried too.
 *
 * @example
 * ```ts
 * import { listRoutes, snapshotTables } from '@mortar/core/testing'
 * import { forgeUnsafeRequests } from '@mortar/session/testing'
 *
 * const before = await snapshotTables(app)
 * const answers = await forgeUnsafeRequests({ url, cookie, routes: listRoutes(fastify) })
 * expect(answers.filter((answer) => !answer.refused)).toEqual([])
 * expect(await snapshotTables(app)).toEqual(before)
 * ```
 */
export async function forgeUnsafeRequests(
  options: ForgeUnsafeRequestsOptions,
): Promise<ForgedAnswer[]> {
  const answers: ForgedAnswer[] = []
  // Bytes, so fetch adds no content type of its own to the ones tried.
  const body = new TextEncoder().encode(options.body ?? '{"_csrf":"","id":"1"}')
  for (const route of options.routes) {
    const method = route.method.toUpperCase()
    if (SAFE.has(method)) continue
    const path = route.path
      .split('/')
      .map((segment) =>
        segment === '*'
          ? 'x'
          : segment.startsWith(':')
            ? encodeURIComponent(options.params?.[segment.slice(1)] ?? '1')
            : segment,
      )
      .join('/')
    for (const contentType of options.contentTypes ?? FORGED_CONTENT_TYPES) {
      const headers: Record<string, string> = { cookie: options.cookie }
      if (contentType !== undefined) headers['content-type'] = contentType
      const response = await fetch(`${options.url}${path}`, { method, headers, body })
      const text = await response.text()
      let code: unknown
      if (response.headers.get('content-type')?.includes('problem+json')) {
        code = (JSON.parse(text) as { code?: unknown }).code
      } else {
        code = options.codeInPage?.(text)
      }
      const setCookie = response.headers.getSetCookie()
      answers.push({
        method,
        path,
        contentType,
        status: response.status,
        code,
        setCookie,
        refused: response.status === 403 && code === 'E_CSRF_REJECTED' && setCookie.length === 0,
      })
    }
  }
  return answers
}
