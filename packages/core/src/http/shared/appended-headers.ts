/** The response headers an {@link HttpExchange}-style API can read and replace. */
export interface HeaderAccess {
  read(name: string): unknown
  /** Replaces the header with `values`; none removes it. */
  write(name: string, values: readonly string[]): void
}

/**
 * The header values appended through a request's HTTP exchange (a session's Set-Cookie), kept so
 * that an error response takes them back. They were meant for the result the problem replaces:
 * a login cookie that went out with a refused response would log the browser in anyway. Hono's
 * adapter drops them with the response it replaces; the node:http, Express and Fastify adapters
 * render a problem on the response that already holds them, so they withdraw them.
 */
export class AppendedHeaders {
  #values: Map<string, string[]> | undefined

  record(name: string, value: string): void {
    this.#values ??= new Map()
    const key = name.toLowerCase()
    const values = this.#values.get(key)
    if (values === undefined) this.#values.set(key, [value])
    else values.push(value)
  }

  /** Removes every recorded value, leaving the values set by anyone else. */
  withdraw(headers: HeaderAccess): void {
    const appended = this.#values
    this.#values = undefined
    if (appended === undefined) return
    for (const [name, values] of appended) {
      const current = headers.read(name)
      const left =
        current === undefined ? [] : Array.isArray(current) ? current.map(String) : [String(current)]
      for (const value of values) {
        const index = left.lastIndexOf(value)
        if (index !== -1) left.splice(index, 1)
      }
      headers.write(name, left)
    }
  }
}
