import type { IncomingMessage, ServerResponse } from 'node:http'
import type { HttpExchange } from '../../context/index.js'
import { AppendedHeaders } from './appended-headers.js'

/** The {@link HttpExchange} of a node:http request, also used under Express. */
export class NodeHttpExchange implements HttpExchange {
  readonly #request: IncomingMessage
  readonly #response: ServerResponse
  readonly #appended = new AppendedHeaders()
  readonly bodyLimit: number

  constructor(request: IncomingMessage, response: ServerResponse, bodyLimit: number) {
    this.#request = request
    this.#response = response
    this.bodyLimit = bodyLimit
  }

  get method(): string {
    return this.#request.method ?? 'GET'
  }

  get url(): string {
    return this.#request.url ?? '/'
  }

  header(name: string): string | undefined {
    const value = this.#request.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(', ') : value
  }

  appendResponseHeader(name: string, value: string): void {
    this.#response.appendHeader(name, value)
    this.#appended.record(name, value)
  }

  /** Takes back what {@link appendResponseHeader} added, before a problem is sent. */
  withdrawAppended(): void {
    const response = this.#response
    this.#appended.withdraw(response, (name, value) => response.setHeader(name, value))
  }
}
