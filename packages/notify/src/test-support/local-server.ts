// Test helpers of this package's own tests (never imported by the package itself).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request a {@link LocalServer} received. */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/** An HTTP server on 127.0.0.1 that records requests and answers with `respond`. */
export interface LocalServer {
  readonly url: string
  readonly port: number
  readonly requests: ReceivedRequest[]
  respond: (request: ReceivedRequest, response: ServerResponse) => void
  close(): Promise<void>
}

export async function startLocalServer(
  respond: (request: ReceivedRequest, response: ServerResponse) => void = (_request, response) => {
    response.statusCode = 204
    response.end()
  },
): Promise<LocalServer> {
  const requests: ReceivedRequest[] = []
  const state = { respond }
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(received)
      state.respond(received, response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get respond() {
      return state.respond
    },
    set respond(next) {
      state.respond = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
