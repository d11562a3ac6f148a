/**
 * The cookies a test client keeps between requests, as a browser would: it stores what each
 * `Set-Cookie` says (a cookie set empty or with `Max-Age=0` is dropped) and hands back the
 * `Cookie` header to send. Attributes (path, domain, expiry dates) are not modelled: tests talk
 * to one server.
 *
 * @example
 * ```ts
 * import { TestCookies } from '@mortar/core/testing'
 *
 * const cookies = new TestCookies()
 * const response = await server.inject({ method: 'POST', url: '/login', headers: { cookie: cookies.header } })
 * cookies.receive(response.headers['set-cookie'])
 * ```
 */
export class TestCookies {
  readonly #cookies = new Map<string, string>()

  /** Applies `Set-Cookie` header lines, as `Headers.getSetCookie()` or Node's headers give them. */
  receive(setCookie: string | readonly string[] | undefined): void {
    const lines =
      setCookie === undefined ? [] : typeof setCookie === 'string' ? [setCookie] : setCookie
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';')
      const name = pair.slice(0, pair.indexOf('=')).trim()
      const value = pair.slice(pair.indexOf('=') + 1).trim()
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  /** The `Cookie` header to send; `''` when there is none. */
  get header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}
