import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HttpExchange } from '../../context/index.js'

/** The {@link HttpExchange} of a Fastify request. */
export class FastifyHttpExchange implements HttpExchange {
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply

  constructor(request: FastifyRequest, reply: FastifyReply) {
    this.#request = request
    this.#reply = reply
  }

  get method(): string {
    return this.#request.method
  }

  get url(): string {
    return this.#request.url
  }

  header(name: string): string | undefined {
    const value = this.#request.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(', ') : value
  }

  appendResponseHeader(name: string, value: string): void {
    // reply.header() already appends set-cookie; any other header would be replaced.
    const existing = this.#reply.getHeader(name)
    const append = existing !== undefined && name.toLowerCase() !== 'set-cookie'
    this.#reply.header(name, append ? `${String(existing)}, ${value}` : value)
  }
}
