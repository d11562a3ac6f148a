import { TestCookies } from '@mortar/core/testing'

/** A response as a test reads it. */
export interface JarResponse {
  readonly status: number
  readonly headers: Headers
  /** The body parsed, when it is JSON (problem+json included); `{}` otherwise. */
  readonly json: Record<string, unknown>
  /** The body as text (an HTML page). */
  readonly text: string
}

/** Options of {@link CookieJar}. */
export interface CookieJarOptions {
  /** The server's base URL (`http://127.0.0.1:1234`). */
  readonly base: string
  /**
   * Sent as `Origin`, as browsers do on writes, with the `Sec-Fetch-Site` a browser sends
   * (`same-origin` for the server's own origin, else `cross-site`); `null` sends neither (a
   * script, curl).
   */
  readonly origin?: string | null
  /** Sent as `User-Agent`, so the device list tells the jars apart. */
  readonly userAgent?: string
}

/**
 * A browser over real HTTP, for tests: keeps what `Set-Cookie` sends and sends it back, and sends
 * `Origin` (the server's own, unless told otherwise) so the session module's CSRF guard passes,
 * and `Sec-Fetch-Site` as a browser does. (Node's `fetch` sends `Sec-Fetch-Mode: cors` of its own
 * accord, whatever a caller sets.)
 */
export class CookieJar {
  readonly #cookies = new TestCookies()
  readonly #base: string
  readonly #origin: string | null
  readonly #userAgent: string | undefined

  constructor(options: CookieJarOptions) {
    this.#base = options.base
    this.#origin = options.origin === undefined ? options.base : options.origin
    this.#userAgent = options.userAgent
  }

  /**
   * Sends a request with this jar's cookies; `headers` adds or overrides headers. A body is sent
   * as JSON, or as a form (`application/x-www-form-urlencoded`) when it is `URLSearchParams`.
   * Redirects are not followed: the answer is the redirect.
   */
  async request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JarResponse> {
    const sent: Record<string, string> = {}
    if (this.cookieHeader !== '') sent.cookie = this.cookieHeader
    if (this.#origin !== null) {
      sent.origin = this.#origin
      sent['sec-fetch-site'] = this.#origin === this.#base ? 'same-origin' : 'cross-site'
    }
    if (this.#userAgent !== undefined) sent['user-agent'] = this.#userAgent
    const form = body instanceof URLSearchParams
    if (body !== undefined) {
      sent['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json'
    }
    const response = await fetch(`${this.#base}${path}`, {
      method,
      headers: { ...sent, ...headers },
      body: body === undefined ? undefined : form ? body.toString() : JSON.stringify(body),
      redirect: 'manual',
    })
    this.#cookies.receive(response.headers.getSetCookie())
    const text = await response.text()
    const isJson = /json/.test(response.headers.get('content-type') ?? '') && text !== ''
    const json = isJson ? (JSON.parse(text) as Record<string, unknown>) : {}
    return { status: response.status, headers: response.headers, json, text }
  }

  /** The `Cookie` header this jar sends. */
  get cookieHeader(): string {
    return this.#cookies.header
  }
}
