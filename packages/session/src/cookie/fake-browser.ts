import {
  type AppState,
  isMortarError,
  RequestContext,
  type RequestScope,
  runBeforeResponseHooks,
  runInRequestContext,
  runRequestStartHooks,
} from '@mortar/core'

/** What one fake request sends. */
export interface FakeRequestInit {
  readonly method?: string
  readonly url?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly ip?: string
  readonly userAgent?: string
}

/** What one fake request got back. */
export interface FakeResponse<R> {
  /** 200, or the error's status (500 for an unknown error). */
  readonly status: number
  readonly body: R | undefined
  readonly error: unknown
  readonly setCookies: readonly string[]
}

interface FakeApp {
  readonly state: AppState
  createScope(): RequestScope
}

/**
 * Drives requests through exactly what an HTTP adapter does (a context with an HTTP exchange,
 * the request-start hooks, the handler, then the before-response hooks for a result) and keeps
 * cookies like a browser. For this
 * package's tests: no server, no port.
 */
export class FakeBrowser {
  readonly #app: FakeApp
  readonly #jar = new Map<string, string>()

  constructor(app: FakeApp) {
    this.#app = app
  }

  /** The cookie the browser holds under `name`. */
  cookie(name: string): string | undefined {
    return this.#jar.get(name)
  }

  /** Replaces (or with undefined, drops) a cookie, to tamper with it. */
  setCookie(name: string, value: string | undefined): void {
    if (value === undefined) this.#jar.delete(name)
    else this.#jar.set(name, value)
  }

  async request<R>(
    init: FakeRequestInit,
    handler: () => R | Promise<R> = () => undefined as R,
  ): Promise<FakeResponse<R>> {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(init.headers ?? {}))
      headers[name.toLowerCase()] = value
    if (this.#jar.size > 0 && headers.cookie === undefined) {
      headers.cookie = [...this.#jar].map(([name, value]) => `${name}=${value}`).join('; ')
    }
    const setCookies: string[] = []
    const app = this.#app
    const context = new RequestContext({
      ip: init.ip ?? '203.0.113.7',
      userAgent: init.userAgent ?? headers['user-agent'] ?? 'FakeBrowser/1.0',
      http: {
        method: (init.method ?? 'GET').toUpperCase(),
        url: init.url ?? '/',
        header: (name) => headers[name.toLowerCase()],
        appendResponseHeader: (name, value) => {
          if (name.toLowerCase() === 'set-cookie') setCookies.push(value)
        },
      },
      createScope: () => app.createScope(),
    })
    let body: R | undefined
    let error: unknown
    try {
      body = await runInRequestContext(context, async () => {
        await runRequestStartHooks(app, context)
        const result = await handler()
        await runBeforeResponseHooks(app, context)
        return result
      })
    } catch (caught) {
      error = caught
    } finally {
      await context.dispose()
    }
    // As the adapters send it: an error response carries none of the cookies appended for it.
    if (error === undefined) for (const header of setCookies) this.#store(header)
    const status = error === undefined ? 200 : isMortarError(error) ? error.status : 500
    return { status, body, error, setCookies: error === undefined ? setCookies : [] }
  }

  #store(header: string): void {
    const [pair = ''] = header.split(';')
    const equals = pair.indexOf('=')
    const name = pair.slice(0, equals)
    const value = pair.slice(equals + 1)
    if (/;\s*Max-Age=0(;|$)/i.test(header) || value === '') this.#jar.delete(name)
    else this.#jar.set(name, value)
  }
}
