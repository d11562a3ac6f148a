import type { Clock, Logger, Principal, RequestContext } from '@mortar/core'
import type { z } from 'zod'
import { checkCsrf, type ResolvedCsrfOptions } from '../csrf/csrf-guard.js'
import { CsrfError, SessionCookieConflictError, SessionDataError } from '../errors.js'
import { storableJson } from '../json/index.js'
import type { SessionOwner, SessionRecord, SessionRegistry } from '../registry/session-registry.js'
import { readCookies, serializeCookie } from './cookie-header.js'
import { Session } from './session.js'
import {
  newCsrfToken,
  newSessionId,
  type OpenedSession,
  SessionCodec,
  type SessionPayload,
  splitCookieValue,
} from './session-codec.js'
import type {
  InvalidSessionEvent,
  ResolvedSessionConfig,
  SessionIdentity,
} from './session-config.js'

/** What the engine needs besides the resolved config. */
export interface SessionEngineInit {
  readonly config: ResolvedSessionConfig
  readonly schema: z.ZodType
  readonly clock: Clock
  readonly logger: Logger
  readonly registry: SessionRegistry | undefined
  readonly csrf: ResolvedCsrfOptions | undefined
  readonly resolvePrincipal:
    | ((
        data: never,
        identity: SessionIdentity,
      ) => Principal | undefined | Promise<Principal | undefined>)
    | undefined
  readonly onInvalidData: ((event: InvalidSessionEvent) => void) | undefined
}

/**
 * Loads the session at the start of each request (cookie → unseal → registry → flash, rolling
 * and key rotation → CSRF → principal) and does the I/O behind {@link Session}'s methods.
 * Internal to the package: apps see `Session`, `session()` and `SessionManager`.
 */
export class SessionEngine {
  readonly codec: SessionCodec
  readonly #config: ResolvedSessionConfig
  readonly #schema: z.ZodType
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #registry: SessionRegistry | undefined
  readonly #csrf: ResolvedCsrfOptions | undefined
  readonly #resolvePrincipal: SessionEngineInit['resolvePrincipal']
  readonly #onInvalidData: SessionEngineInit['onInvalidData']

  constructor(init: SessionEngineInit) {
    this.#config = init.config
    this.#schema = init.schema
    this.#clock = init.clock
    this.#logger = init.logger
    this.#registry = init.registry
    this.#csrf = init.csrf
    this.#resolvePrincipal = init.resolvePrincipal
    this.#onInvalidData = init.onInvalidData
    this.codec = new SessionCodec(init.config, init.schema)
  }

  /** The registry sessions are recorded in, if one is configured. */
  get registry(): SessionRegistry | undefined {
    return this.#registry
  }

  /** The request-start hook: loads the session into the `session` slot. */
  async load(context: RequestContext): Promise<void> {
    const http = context.http
    if (http === undefined) return
    const now = this.#clock.nowMs()
    const values = readCookies(http.header('cookie'), this.#config.cookieName)
    let payload: SessionPayload | undefined
    let clear = false
    let reissue = false
    let registered = false
    let record: SessionRecord | undefined
    let early: Promise<SessionRecord | undefined> | undefined
    if (values.length > 0) {
      const opened = await this.#open(values, now)
      if (opened === undefined) {
        clear = true
      } else {
        payload = opened.payload
        early = opened.early
        // Sealed with an older key: re-seal with the newest, so the old key can be retired.
        if (opened.keyId !== this.#config.newestKeyId) reissue = true
      }
    }
    if (payload?.userId !== undefined && this.#registry !== undefined) {
      record = await (early ?? this.#registry.find(payload.id))
      // The record must be this very session's: a store that answered with another (a lost
      // WHERE, a loose collation) would keep a revoked session alive.
      if (record === undefined || record.id !== payload.id || record.userId !== payload.userId) {
        // Revoked (or never recorded): refused, and the browser is told to drop the cookie.
        payload = undefined
        clear = true
      } else {
        registered = true
      }
    }

    // Before anything is written: a request that fails the guard changes nothing, not even the
    // last-seen time. Only a valid session can be forged with; one without is checked at login.
    const verdict =
      this.#csrf === undefined ? 'pass' : checkCsrf(http, payload?.csrfToken, this.#csrf)
    if (payload !== undefined && verdict !== 'pass' && verdict !== 'form-token') {
      throw new CsrfError(verdict.reject)
    }
    const current = new Session(this, context, {
      payload: payload ?? this.freshPayload(),
      registered,
      crossSite: typeof verdict === 'object' ? verdict.reject : undefined,
    })
    context.set('session', current)
    const settle = () => this.#settle(context, current, { now, payload, record, reissue, clear })
    if (verdict === 'form-token') {
      // Nothing of the session's identity until verifyCsrfForm finds the token in the body; the
      // rest of the load (last seen, flash, rolling, the principal) runs then, as for any other
      // request: skipped, a flash the page showed stayed in the cookie and showed again.
      current.holdForCsrf(context.withhold('principal', new CsrfError('missing-token')), settle)
      return
    }
    await settle()
  }

  /**
   * Opens the session cookie's values (usually one). A name repeats when another host set one
   * for a parent domain, or an earlier `cookie.path` or `cookie.domain` left one: an unusable
   * value must not cost the visitor the genuine session (which clearing would delete), and
   * genuine values of two sessions are refused, since reading either could be the planted one
   * and the other would take every write. Copies of one session: the newest issued is current.
   * Undefined when no value is usable (reported, and the cookie is to be cleared).
   */
  async #open(
    values: readonly string[],
    now: number,
  ): Promise<
    | {
        readonly payload: SessionPayload
        readonly keyId: string
        readonly early: Promise<SessionRecord | undefined> | undefined
      }
    | undefined
  > {
    let early: Promise<SessionRecord | undefined> | undefined
    const attempts = await Promise.all(
      values.map(async (value) => {
        const { hint, seal } = splitCookieValue(value)
        // A logged-in cookie names its id in clear, so the registry lookup overlaps the
        // unsealing (for a lone value: repeated values must not multiply registry reads).
        if (hint !== undefined && this.#registry !== undefined && values.length === 1) {
          early = this.#registry.find(hint)
          early.catch(() => undefined) // awaited in load, or dropped with the cookie
        }
        const opened = await this.codec.open(seal, now)
        return opened.ok && hint !== undefined && hint !== opened.payload.id
          ? ({ ok: false, reason: 'invalid-seal' } as const)
          : opened
      }),
    )
    let chosen: Extract<OpenedSession, { ok: true }> | undefined
    for (const opened of attempts) {
      if (opened.ok) {
        if (chosen !== undefined && chosen.payload.id !== opened.payload.id) {
          throw new SessionCookieConflictError(this.#config.cookieName)
        }
        if (chosen === undefined || opened.payload.issuedAt > chosen.payload.issuedAt) {
          chosen = opened
        }
        continue
      }
      // Revoked too, so the session does not come back once this clock reaches its stamps.
      const ahead = opened.session
      if (ahead?.userId !== undefined) await this.#revokeAhead({ ...ahead, userId: ahead.userId })
    }
    if (chosen === undefined) {
      for (const opened of attempts) if (!opened.ok) this.#reportInvalid(opened)
      return undefined
    }
    return { payload: chosen.payload, keyId: chosen.keyId, early }
  }

  /** What `load` does once the request is proven: touch, re-issue or clear, the principal. */
  async #settle(
    context: RequestContext,
    current: Session<unknown>,
    loaded: {
      readonly now: number
      readonly payload: SessionPayload | undefined
      readonly record: SessionRecord | undefined
      readonly reissue: boolean
      readonly clear: boolean
    },
  ): Promise<void> {
    const { now, payload, record, clear } = loaded
    let reissue = loaded.reissue
    if (record !== undefined && now - record.lastSeenAt.getTime() >= this.#config.touchIntervalMs) {
      await this.#touch(record.id, now)
    }
    if (payload !== undefined) {
      if (payload.flash !== undefined && Object.keys(payload.flash).length > 0) reissue = true
      const rolling = this.#config.rollingSeconds
      if (rolling > 0 && now - payload.issuedAt >= rolling * 1000) reissue = true
      if (reissue) await this.#reissue(current)
    } else if (clear) {
      current.clearCookie()
    }
    await this.fillPrincipal(context, current)
  }

  /**
   * The before-response hook: refuses a response to a form request that never showed its CSRF
   * token, and otherwise sets the session's cookie, once, as the handler left it.
   */
  finish(context: RequestContext): void {
    const current = context.get('session')
    if (current === undefined) return
    if (current.csrfPending) throw new CsrfError('missing-token')
    const cookie = current.takeCookie()
    if (cookie !== undefined) this.#http(context).appendResponseHeader('set-cookie', cookie)
  }

  /** Fills the `principal` slot from the session, when a resolver is configured. */
  async fillPrincipal(context: RequestContext, current: Session<unknown>): Promise<void> {
    if (this.#resolvePrincipal === undefined) return
    const principal = await this.#resolvePrincipal(current.data as never, {
      sessionId: current.id,
      userId: current.userId,
    })
    if (principal !== undefined) context.set('principal', principal)
  }

  /** The CSRF options, when the guard is on. */
  get csrf(): ResolvedCsrfOptions | undefined {
    return this.#csrf
  }

  now(): number {
    return this.#clock.nowMs()
  }

  /** An empty session: a new id and token, and the schema's output for `{}`. */
  freshPayload(): SessionPayload {
    const now = this.#clock.nowMs()
    return {
      id: newSessionId(),
      createdAt: now,
      issuedAt: now,
      userId: undefined,
      data: this.emptyData(),
      flash: undefined,
      csrfToken: newCsrfToken(),
    }
  }

  /** The data of an empty session: the schema's output for `{}`. */
  emptyData(): unknown {
    return this.#schema.parse({})
  }

  /**
   * The data as the schema outputs it; throws {@link SessionDataError} when it does not fit, or
   * when its JSON (what the cookie holds) would not fit on the next request, which would drop
   * the whole session there.
   */
  validate(data: unknown): unknown {
    const parsed = this.#schema.safeParse(data)
    if (!parsed.success) {
      throw new SessionDataError(
        parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join('.'),
          message: issue.message,
        })),
      )
    }
    const stored = storableJson(this.#schema, parsed.data)
    if (!stored.ok) throw new SessionDataError(stored.issues)
    return parsed.data
  }

  /**
   * The cookie value for `payload`; a registered user's starts with its id (see load). A
   * `reissue` re-seals a session as its cookie held it (SessionCodec.seal).
   */
  seal(payload: SessionPayload, options: { readonly reissue?: boolean } = {}): Promise<string> {
    const idHint = payload.userId !== undefined && this.#registry !== undefined
    return this.codec.seal(payload, { idHint, reissue: options.reissue === true })
  }

  async register(payload: SessionPayload, context: RequestContext): Promise<void> {
    if (this.#registry === undefined || payload.userId === undefined) return
    const now = new Date(this.#clock.nowMs())
    await this.#registry.create({
      id: payload.id,
      userId: payload.userId,
      createdAt: new Date(payload.createdAt),
      lastSeenAt: now,
      ip: context.ip,
      userAgent: context.userAgent,
    })
  }

  /** Revokes the session; true when it was live (or there is no registry to say otherwise). */
  async revoke(session: SessionOwner): Promise<boolean> {
    return (await this.#registry?.revoke(session)) ?? true
  }

  /** The `Set-Cookie` value that stores `sealed` for what is left of the session's life. */
  cookieFor(sealed: string, payload: SessionPayload): string {
    const config = this.#config
    // The cookie outlives neither the idle ttl nor what is left of the absolute maximum age.
    const remainingMs = payload.createdAt + config.absoluteTtlSeconds * 1000 - this.#clock.nowMs()
    const maxAge = Math.min(config.ttlSeconds, Math.floor(remainingMs / 1000))
    return serializeCookie(config.cookieName, sealed, { ...this.#attributes(), maxAge })
  }

  /** The `Set-Cookie` value that makes the browser drop the session cookie. */
  clearingCookie(): string {
    return serializeCookie(this.#config.cookieName, '', { ...this.#attributes(), maxAge: 0 })
  }

  #attributes() {
    const config = this.#config
    return {
      path: config.path,
      domain: config.domain,
      sameSite: config.sameSite,
      secure: config.secure,
      httpOnly: config.httpOnly,
    }
  }

  #http(context: RequestContext) {
    const http = context.http
    if (http === undefined) {
      throw new Error('This request has no HTTP exchange; a session cookie cannot be set.')
    }
    return http
  }

  async #reissue(current: Session<unknown>): Promise<void> {
    try {
      await current.reissue()
    } catch (error) {
      // The request still has its session; only the refresh of the cookie is lost.
      this.#logger.warn({ err: error }, 'Re-issuing the session cookie failed')
    }
  }

  async #revokeAhead(session: SessionOwner): Promise<void> {
    try {
      await this.#registry?.revoke(session)
    } catch (error) {
      // The cookie is refused and cleared anyway; only the record lingers.
      this.#logger.warn({ err: error }, 'Revoking a session sealed ahead of this clock failed')
    }
  }

  async #touch(id: string, nowMs: number): Promise<void> {
    try {
      await this.#registry?.touch(id, new Date(nowMs))
    } catch (error) {
      // Last-seen is informational: a registry hiccup must not fail the request.
      this.#logger.warn({ err: error }, 'Updating the session last-seen time failed')
    }
  }

  #reportInvalid(opened: Extract<OpenedSession, { ok: false }>): void {
    if (opened.reason === 'expired') return
    const event: InvalidSessionEvent =
      opened.issues === undefined
        ? { reason: opened.reason }
        : { reason: opened.reason, issues: opened.issues }
    if (this.#onInvalidData === undefined) {
      this.#logger.warn(
        { reason: event.reason },
        event.reason === 'issued-ahead'
          ? "Dropped a session cookie sealed over a minute ahead of this server's clock: check that every server keeps time (NTP)."
          : 'Dropped a session cookie that could not be used',
      )
      return
    }
    try {
      this.#onInvalidData(event)
    } catch (error) {
      this.#logger.error({ err: error }, 'onInvalidData threw; the session is empty anyway')
    }
  }
}
