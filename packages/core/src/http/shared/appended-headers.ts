/** A response whose headers can be read and removed: Node's `ServerResponse`, Fastify's reply. */
export interface HeaderHolder {
  getHeader(name: string): unknown
  removeHeader(name: string): unknown
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

  /** Removes every recorded value from `holder`, leaving the values set by anyone else. */
  withdraw(holder: HeaderHolder, set: (name: string, value: string | string[]) => void): void {
    const appended = this.#values
    this.#values = undefined
    if (appended === undefined) return
    for (const [name, values] of appended) {
      const current = holder.getHeader(name)
      const left = current === undefined ? [] : headerValues(current)
      for (const value of values) {
        const index = left.lastIndexOf(value)
        if (index !== -1) left.splice(index, 1)
      }
      holder.removeHeader(name)
      if (left.length > 0) set(name, left.length === 1 ? (left[0] as string) : left)
    }
  }
}

/** A response header's values as a list: Node and Fastify keep a repeated header as an array. */
export function headerValues(header: unknown): string[] {
  return Array.isArray(header) ? header.map(String) : [String(header)]
}
