import type { Context } from 'hono'
import type { HttpExchange } from '../../context/index.js'

/**
 * The {@link HttpExchange} of a Hono request. Response headers go through `c.header()`, so they
 * reach responses built with `c.json()`, `c.text()` or `c.body()`.
 */
export class HonoHttpExchange implements HttpExchange {
  readonly #c: Context

  constructor(c: Context) {
    this.#c = c
  }

  get method(): string {
    return this.#c.req.method
  }

  get url(): string {
    const url = this.#c.req.url
    // The path and query, as the other adapters give them.
    const start = url.indexOf('/', url.indexOf('//') + 2)
    return start === -1 ? '/' : url.slice(start)
  }

  header(name: string): string | undefined {
    return this.#c.req.header(name)
  }

  appendResponseHeader(name: string, value: string): void {
    this.#c.header(name, value, { append: true })
  }
}
