// Test support for this package's own engine tests (not exported): a TCP proxy to a database
// server that can be cut, as a server restart or a network partition cuts connections, or
// stalled, as a server that takes every connection and query but answers none (a hung disk, a
// lock held for ever, a partition that drops packets instead of resetting).
import { connect, createServer, type Server, type Socket } from 'node:net'

export class CuttableProxy {
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  #cutOnReply: { readonly text: Buffer; readonly done: () => void } | undefined
  /** While stalled, the replies held back, in order, each with the client it was for. */
  #held: { readonly client: Socket; readonly chunk: Buffer }[] | undefined
  port = 0

  constructor(
    readonly host: string,
    readonly target: number,
  ) {}

  /** A proxy to the server of `url`, started. */
  static async to(url: string, defaultPort: number): Promise<CuttableProxy> {
    const real = new URL(url)
    const proxy = new CuttableProxy(real.hostname, Number(real.port || defaultPort))
    await proxy.start()
    return proxy
  }

  /** `url` with the proxy's address. */
  via(url: string): string {
    const through = new URL(url)
    through.hostname = '127.0.0.1'
    through.port = String(this.port)
    return through.toString()
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, this.host)
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => socket.destroy())
      }
      client.pipe(upstream)
      upstream.on('data', (chunk: Buffer) => {
        const armed = this.#cutOnReply
        if (armed !== undefined && chunk.includes(armed.text)) {
          // The server has answered (and so committed); the client never hears it.
          this.#cutOnReply = undefined
          client.destroy()
          upstream.destroy()
          armed.done()
          return
        }
        if (this.#held !== undefined) this.#held.push({ client, chunk })
        else client.write(chunk)
      })
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  /**
   * Cuts the connection that receives the first server reply holding `text` (a command tag,
   * say), instead of passing that reply on: the server did the work, the client sees a dropped
   * connection. Resolves once it has cut.
   */
  cutOnReply(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.#cutOnReply = { text: Buffer.from(text), done: resolve }
    })
  }

  /**
   * From now on the server's replies (new connections' handshakes included) are held back: the
   * server still receives and runs what clients send, and no client hears of it, until
   * {@link answer}.
   */
  stall(): void {
    this.#held ??= []
  }

  /** Passes on every reply held since {@link stall}, in order, and stops holding them. */
  answer(): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const { client, chunk } of held) if (!client.destroyed) client.write(chunk)
  }

  async cut(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => server?.close(resolve))
  }
}
