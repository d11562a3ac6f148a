import type { Context } from 'hono'
import type { HttpExchange } from '../../context/index.js'

/**
 * The {@link HttpExchange} of a Hono request. Headers appended before the handler is done are
 * held until {@link HonoHttpExchange.flush}, then set with `c.header()` on the response the
 * handler produced: Hono drops headers set before a handler that returns its own `Response`
 * (a mounted fetch handler does), so they cannot go through `c.header()` earlier.
 */
export class HonoHttpExchange implements HttpExchange {
  readonly #c: Context
  #held: string[] | undefined = []
  readonly bodyLimit: number

  constructor(c: Context, bodyLimit: number) {
    this.#c = c
    this.bodyLimit = bodyLimit
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
    if (this.#held === undefined) this.#c.header(name, value, { append: true })
    else this.#held.push(name, value)
  }

  /** Sets the held headers on the handler's response; later ones go straight to it. */
  flush(): void {
    const held = this.#held
    this.#held = undefined
    if (held === undefined) return
    for (let index = 0; index < held.length; index += 2) {
      this.#c.header(held[index] as string, held[index + 1] as string, { append: true })
    }
  }
}
