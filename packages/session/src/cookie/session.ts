import { currentRequestContext, type RequestContext, UnauthorizedError } from '@mortar/core'
import { tokensMatch } from '../csrf/csrf-guard.js'
import { CsrfError, type CsrfRejection, SessionUnavailableError } from '../errors.js'
import { newCsrfToken, newSessionId, type SessionPayload } from './session-codec.js'
import type { SessionEngine } from './session-engine.js'

/**
 * Types the app's session data for {@link session}, by declaration merging. Declare `data` as
 * the output type of the schema given to `sessionModule`.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 *
 * export const sessionSchema = z.object({ cart: z.array(z.string()).default([]) })
 * declare module '@mortar/session' {
 *   interface SessionTypes { data: z.output<typeof sessionSchema> }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface SessionTypes {}

/** The app's session data: `SessionTypes['data']` once declared, a plain record before. */
export type AppSessionData = SessionTypes extends { data: infer D } ? D : Record<string, unknown>

declare module '@mortar/core' {
  interface ContextSlots {
    /** The request's session, loaded by `sessionModule` before any handler runs. */
    session: Session<AppSessionData>
  }
}

/** What a write changes of a {@link Session}. */
interface SessionState<T> {
  readonly id: string
  readonly createdAt: number
  readonly userId: string | undefined
  readonly csrfToken: string
  readonly data: T
}

/** A write checked and sealed, not yet taken (see `Session#prepare`). */
interface PreparedWrite<T> {
  readonly state: SessionState<T>
  readonly payload: SessionPayload
  readonly sealed: string
}

/** A form request's hold until its CSRF token is shown (see `Session#holdForCsrf`). */
interface PendingCsrf {
  readonly release: () => void
  readonly settle: () => Promise<void>
}

/** Where a {@link Session} starts: its unsealed state and what the guard and registry said. */
interface SessionStart {
  readonly payload: SessionPayload
  readonly registered: boolean
  /** Set when a browser said the request came from another site: it may not log in. */
  readonly crossSite: CsrfRejection | undefined
}

/**
 * One visitor's session: typed `data` sealed into an encrypted, signed cookie (iron-session), a
 * random id, an optional user id set by {@link Session.login}, one-request flash messages and a
 * CSRF token. Get it with {@link session}; changes are sent by {@link Session.save}.
 *
 * The cookie goes out once per response, as the request leaves the session: whatever the
 * handler called (`login()` then `save()`, `save()` twice, `destroy()`), the response carries one
 * `Set-Cookie` for it, set just before the response is sent, and none on an error response. A
 * change made once the response is on its way throws `SessionUnavailableError`.
 *
 * @example
 * ```ts
 * import { session } from '@mortar/session'
 *
 * const current = session()
 * current.data.cart = [...(current.data.cart ?? []), 'sku-42']
 * current.flash('notice', 'Added to your cart')
 * await current.save()
 * ```
 */
export class Session<T = AppSessionData> {
  readonly #engine: SessionEngine
  readonly #context: RequestContext
  #id: string
  #createdAt: number
  #userId: string | undefined
  #csrfToken: string
  #data: T
  #registered: boolean
  #incomingFlash: Record<string, string>
  #outgoingFlash = flashMessages()
  readonly #crossSite: CsrfRejection | undefined
  /** While a form request has not shown its token: what proving it releases and runs. */
  #pendingCsrf: PendingCsrf | undefined
  /** The Set-Cookie value for the end of the request, if the session changed. */
  #cookie: string | undefined
  /** True once the response is on its way: the cookie can no longer change. */
  #finished = false

  /** @internal Sessions are made by the session module; use {@link session} to get one. */
  constructor(engine: SessionEngine, context: RequestContext, start: SessionStart) {
    this.#engine = engine
    this.#context = context
    this.#id = start.payload.id
    this.#createdAt = start.payload.createdAt
    this.#userId = start.payload.userId
    this.#csrfToken = start.payload.csrfToken
    this.#data = start.payload.data as T
    this.#registered = start.registered
    this.#incomingFlash = { ...start.payload.flash }
    this.#crossSite = start.crossSite
  }

  /** The session id: 128 random bits, base64url. It changes on `regenerate`, `login` and `destroy`. */
  get id(): string {
    this.#assertProven()
    return this.#id
  }

  /** The user this session was logged in for by {@link Session.login}; undefined when anonymous. */
  get userId(): string | undefined {
    this.#assertProven()
    return this.#userId
  }

  /** When this session began (the absolute maximum age counts from it). */
  get createdAt(): Date {
    this.#assertProven()
    return new Date(this.#createdAt)
  }

  /** The session's data, typed by the module's schema. Change it, then call {@link Session.save}. */
  get data(): T {
    this.#assertProven()
    return this.#data
  }

  set data(value: T) {
    this.#assertProven()
    this.#data = value
  }

  /**
   * Validates the data against the schema, seals it, and sets the session's cookie for the end of
   * the request (see {@link Session}). A logged-in session is recorded in the registry the first
   * time it is saved. Throws `SessionTooLargeError` over 4 KB (counted under the longest key id a
   * rotation may re-seal it with) and `SessionDataError` when the
   * data does not fit the schema, and `CsrfError` when the browser said the request came from
   * another site (see {@link Session.login}).
   */
  async save(): Promise<void> {
    this.#assertProven()
    this.#assertOpen()
    this.#assertSameSite()
    await this.#write(await this.#prepare({}))
  }

  /**
   * @internal For the session's load: saves the session as its cookie held it (rolling, a
   * consumed flash message, a newer key), counting only the bytes sent now (SessionCodec.seal).
   */
  async reissue(): Promise<void> {
    this.#assertProven()
    this.#assertOpen()
    this.#assertSameSite()
    await this.#write(await this.#prepare({}, { reissue: true }))
  }

  /**
   * Ends the session: revokes it in the registry, empties it (new id, no user, empty data) and
   * clears the cookie.
   */
  async destroy(): Promise<void> {
    this.#assertProven()
    this.#assertOpen()
    this.#assertSameSite()
    await this.#revokeCurrent()
    const fresh = this.#engine.freshPayload()
    this.#id = fresh.id
    this.#createdAt = fresh.createdAt
    this.#userId = undefined
    this.#csrfToken = fresh.csrfToken
    this.#data = fresh.data as T
    this.#incomingFlash = {}
    this.#outgoingFlash = flashMessages()
    this.#setCookie(this.#engine.clearingCookie())
  }

  /**
   * Gives the session a new id and CSRF token, keeping its data, its user and when it began
   * (the absolute maximum age is not restarted), revokes the old id in the registry and saves.
   * Call it when privileges change, against session fixation; {@link Session.login} does it for
   * you.
   */
  async regenerate(): Promise<void> {
    this.#assertProven()
    this.#assertOpen()
    this.#assertSameSite()
    const renewed = await this.#prepare({ id: newSessionId(), csrfToken: newCsrfToken() })
    if (!(await this.#revokeCurrent())) {
      // Revoked while this request ran ("log out everywhere"): the new id would carry the
      // revoked session's sign-in into a fresh registry record.
      this.#userId = undefined
      throw new UnauthorizedError('This session was revoked while the request ran; sign in again.')
    }
    await this.#write(renewed)
  }

  /**
   * Logs `userId` in: regenerates the session (new id, new CSRF token), records the user id in
   * the sealed cookie and in the registry, saves, and fills the `principal` slot for the rest of
   * this request. The data is kept when the session was anonymous or already this user's; over
   * another user's session it starts empty (the schema's output for `{}`), without that user's
   * flash messages. Throws `CsrfError` when the browser said the request came from another site
   * (login CSRF: a page elsewhere logging the visitor into an account of its choosing), as
   * `save()`, `regenerate()` and `destroy()` do there.
   */
  async login(userId: string): Promise<void> {
    this.#assertProven()
    this.#assertOpen()
    this.#assertSameSite()
    if (typeof userId !== 'string' || userId === '') {
      throw new TypeError('session.login(userId) needs a non-empty string user id.')
    }
    // Another user signs in over a signed-in session (a shared computer, an admin switching
    // accounts): nothing the previous user's session held (a step-up or second-factor flag,
    // their cart, a flash message meant for them) may reach the new user. An anonymous session
    // keeps its data (a cart made before signing in), and so does a second sign-in of the same
    // user.
    const switching = this.#userId !== undefined && this.#userId !== userId
    const data = switching ? (this.#engine.emptyData() as T) : this.#data
    const signedIn = await this.#prepare({
      id: newSessionId(),
      csrfToken: newCsrfToken(),
      // A sign-in begins a session: the absolute maximum age counts from here.
      createdAt: this.#engine.now(),
      userId,
      data,
    })
    await this.#revokeCurrent()
    if (switching) this.#incomingFlash = {}
    await this.#write(signedIn)
    await this.#engine.fillPrincipal(this.#context, this)
  }

  /** Logs out: the same as {@link Session.destroy}. */
  async logout(): Promise<void> {
    await this.destroy()
  }

  /** Keeps `message` under `key` for the next request only; sent by the next {@link Session.save}. */
  flash(key: string, message: string): void {
    this.#assertProven()
    // The next request drops a cookie whose flash holds anything but strings, session and all.
    if (typeof message !== 'string') {
      throw new TypeError('session.flash(key, message) needs a string message.')
    }
    this.#outgoingFlash[key] = message
  }

  /** Takes the flash message the previous request left under `key`; later calls get undefined. */
  consumeFlash(key: string): string | undefined {
    this.#assertProven()
    if (!Object.hasOwn(this.#incomingFlash, key)) return undefined
    const message = this.#incomingFlash[key]
    delete this.#incomingFlash[key]
    return message
  }

  /** The session's CSRF token, to embed in forms or send as `x-csrf-token`. */
  csrfToken(): string {
    this.#assertProven()
    return this.#csrfToken
  }

  /**
   * @internal For `verifyCsrfForm`: checks the form's token field against this session's token,
   * then releases the principal and finishes loading the session (see `holdForCsrf`).
   */
  async settleCsrf(body: unknown): Promise<void> {
    const pending = this.#pendingCsrf
    if (pending === undefined) return
    const field = this.#engine.csrf?.formField ?? ''
    const presented =
      typeof body === 'object' && body !== null && Object.hasOwn(body, field)
        ? (body as Record<string, unknown>)[field]
        : undefined
    if (presented === undefined) throw new CsrfError('missing-token')
    if (!tokensMatch(presented, this.#csrfToken)) throw new CsrfError('bad-token')
    this.#pendingCsrf = undefined
    pending.release()
    await pending.settle()
  }

  /** @internal True while an unsafe form request still waits for `verifyCsrfForm`. */
  get csrfPending(): boolean {
    return this.#pendingCsrf !== undefined
  }

  /**
   * @internal Set by the CSRF guard: `release` gives back the withheld principal, and `settle`
   * runs the part of the load a proven request gets (last seen, flash, rolling, the principal).
   */
  holdForCsrf(release: () => void, settle: () => Promise<void>): void {
    this.#pendingCsrf = { release, settle }
  }

  /** @internal Drops the browser's cookie at the end of the request (an unusable one). */
  clearCookie(): void {
    this.#setCookie(this.#engine.clearingCookie())
  }

  /** @internal For the before-response hook: the one Set-Cookie value to send, if any. */
  takeCookie(): string | undefined {
    this.#finished = true
    const cookie = this.#cookie
    this.#cookie = undefined
    return cookie
  }

  #setCookie(cookie: string): void {
    // The latest state wins: one Set-Cookie at the end of the request.
    this.#cookie = cookie
  }

  /**
   * Validates and seals the session as `changes` would leave it, changing nothing: every check
   * of a write (the schema, the JSON, the 4 KB) comes before the first thing it changes (the
   * registry's old id, this session), so a write refused with a typed error leaves the session
   * as it was.
   */
  async #prepare(
    changes: Partial<SessionState<T>>,
    options: { readonly reissue?: boolean } = {},
  ): Promise<PreparedWrite<T>> {
    const state: SessionState<T> = {
      id: this.#id,
      createdAt: this.#createdAt,
      userId: this.#userId,
      csrfToken: this.#csrfToken,
      data: this.#data,
      ...changes,
    }
    const payload: SessionPayload = {
      id: state.id,
      createdAt: state.createdAt,
      issuedAt: this.#engine.now(),
      userId: state.userId,
      data: this.#engine.validate(state.data),
      flash: this.#outgoingFlash,
      csrfToken: state.csrfToken,
    }
    return { state, payload, sealed: await this.#engine.seal(payload, options) }
  }

  /** Takes a prepared state: records a signed-in session not yet registered, sets the cookie. */
  async #write({ state, payload, sealed }: PreparedWrite<T>): Promise<void> {
    this.#id = state.id
    this.#createdAt = state.createdAt
    this.#userId = state.userId
    this.#csrfToken = state.csrfToken
    this.#data = state.data
    if (state.userId !== undefined && !this.#registered) {
      await this.#engine.register(payload, this.#context)
      this.#registered = true
    }
    this.#setCookie(this.#engine.cookieFor(sealed, payload))
  }

  /** Revokes the registered session; false when the registry no longer had it live. */
  async #revokeCurrent(): Promise<boolean> {
    // Registered means signed in: the record was made, or found, for this user id.
    if (!this.#registered || this.#userId === undefined) return true
    const live = await this.#engine.revoke({ id: this.#id, userId: this.#userId })
    this.#registered = false
    return live
  }

  #assertOpen(): void {
    // Checked before anything changes, so a late call neither registers nor revokes anything.
    if (this.#finished) {
      throw new SessionUnavailableError(
        'The response is already on its way, and the session cookie goes out with it: change the session before answering.',
      )
    }
  }

  #assertSameSite(): void {
    // A browser that says another site sent the request sent no session cookie (SameSite), so
    // any cookie this response set would replace the visitor's session: sign them out, or plant
    // data (or, through login, an account) of the other site's choosing.
    if (this.#crossSite !== undefined) throw new CsrfError(this.#crossSite)
  }

  #assertProven(): void {
    // Fail closed: a form request that has not shown its CSRF token gets nothing of its session.
    if (this.#pendingCsrf !== undefined) throw new CsrfError('missing-token')
  }
}

// Without a prototype: `flash('__proto__', …)` set the object's prototype (a string does
// nothing there), so that message was dropped without a word.
function flashMessages(): Record<string, string> {
  return Object.create(null) as Record<string, string>
}

/**
 * The current request's {@link Session}, loaded by `sessionModule` before the handler ran.
 * Throws `SessionUnavailableError` outside a request or without the module.
 *
 * @example
 * ```ts
 * import { session } from '@mortar/session'
 *
 * fastify.post('/cart', async () => {
 *   const current = session()
 *   current.data.cart = [...(current.data.cart ?? []), 'sku-42']
 *   await current.save()
 *   return { items: current.data.cart }
 * })
 * ```
 */
export function session(): Session<AppSessionData> {
  const context = currentRequestContext()
  if (context === undefined) {
    throw new SessionUnavailableError(
      'session() was called outside a request; call it from a handler behind a Mortar HTTP adapter.',
    )
  }
  const current = context.get('session')
  if (current === undefined) {
    throw new SessionUnavailableError(
      'This request has no session: add sessionModule(...) to createApp({ modules }) and serve through a Mortar HTTP adapter (mortarFastify, mortarHono, withMortar, mortarExpress).',
    )
  }
  return current
}
