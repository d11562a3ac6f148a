/** The few parts of a `pg` client the listener uses. */
interface ListenClient {
  connect(): Promise<unknown>
  query(text: string): Promise<unknown>
  end(): Promise<void>
  on(event: 'notification', listener: (message: { payload?: string }) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  removeAllListeners(): unknown
}

/** Options of {@link PostgresListener}. */
export interface PostgresListenerOptions {
  readonly url: string
  readonly channel: string
  readonly onNotify: (payload: string) => void
  readonly onError: (error: unknown) => void
}

const RETRY_MIN_MS = 500
const RETRY_MAX_MS = 30_000

/**
 * One dedicated connection that `LISTEN`s on a channel and reconnects by itself when it drops
 * (notifications sent meanwhile are lost: workers poll, so nothing waits for long).
 */
export class PostgresListener {
  readonly #options: PostgresListenerOptions
  #client: ListenClient | undefined
  #stopped = false
  #retryMs = RETRY_MIN_MS
  #retryTimer: NodeJS.Timeout | undefined

  constructor(options: PostgresListenerOptions) {
    this.#options = options
  }

  /** Connects and listens; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.#connect()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    const client = this.#client
    this.#client = undefined
    if (client === undefined) return
    client.removeAllListeners()
    client.on('error', () => undefined)
    await client.end().catch(() => undefined)
  }

  async #connect(): Promise<void> {
    const pg = (await import('pg')) as unknown as {
      Client?: new (config: { connectionString: string }) => ListenClient
      default: { Client: new (config: { connectionString: string }) => ListenClient }
    }
    const Client = pg.Client ?? pg.default.Client
    const client = new Client({ connectionString: this.#options.url })
    client.on('error', (error) => this.#lost(client, error))
    client.on('notification', (message) => this.#options.onNotify(message.payload ?? ''))
    try {
      await client.connect()
      await client.query(`listen ${this.#options.channel}`)
    } catch (error) {
      client.removeAllListeners()
      client.on('error', () => undefined)
      await client.end().catch(() => undefined)
      throw error
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined)
      return
    }
    this.#client = client
    this.#retryMs = RETRY_MIN_MS
  }

  #lost(client: ListenClient, error: unknown): void {
    if (this.#client !== client || this.#stopped) return
    this.#client = undefined
    client.removeAllListeners()
    client.on('error', () => undefined)
    void client.end().catch(() => undefined)
    this.#options.onError(error)
    this.#retry()
  }

  #retry(): void {
    if (this.#stopped) return
    this.#retryTimer = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
        this.#options.onError(error)
        this.#retry()
      })
    }, this.#retryMs)
    this.#retryTimer.unref()
  }
}
