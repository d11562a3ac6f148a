import { randomBytes } from 'node:crypto'
import { sealData, type UnsealErrorReason, unsealData } from 'iron-session'
import type { z } from 'zod'
import { COOKIE_LIMIT_BYTES, cookieBytes } from './cookie-header.js'
import {
  type InvalidSessionEvent,
  MAX_KEY_ID_DIGITS,
  type ResolvedSessionConfig,
} from './session-config.js'
import { SessionTooLargeError } from '../errors.js'

/** What the sealed cookie holds. Short keys: every byte is sent on every request. */
interface SealedEnvelope {
  /** Envelope version. */
  v: 1
  /** Session id: 128 random bits, base64url. */
  id: string
  /** Created at, ms since the epoch (the absolute maximum age counts from it). */
  c: number
  /** Issued at: when this cookie was sealed (the idle ttl and rolling count from it). */
  i: number
  /** User id, after `login()`. */
  u?: string
  /** The app's data. */
  d: unknown
  /** Flash messages for the next request. */
  f?: Record<string, string>
  /** CSRF synchronizer token. */
  t: string
}

/** A session's state, unsealed and validated. */
export interface SessionPayload {
  readonly id: string
  readonly createdAt: number
  readonly issuedAt: number
  readonly userId: string | undefined
  readonly data: unknown
  readonly flash: Readonly<Record<string, string>> | undefined
  readonly csrfToken: string
}

/** The outcome of {@link SessionCodec.open}. */
export type OpenedSession =
  | {
      readonly ok: true
      readonly payload: SessionPayload
      readonly keyId: string
    }
  | {
      readonly ok: false
      readonly reason: 'expired' | InvalidSessionEvent['reason']
      readonly issues?: InvalidSessionEvent['issues']
      /** For `issued-ahead`: the genuine seal's session, so a registry can revoke it. */
      readonly session?: { readonly id: string; readonly userId: string | undefined }
    }

const ID = /^[A-Za-z0-9_-]{22}$/
const TOKEN = /^[A-Za-z0-9_-]{22,64}$/
// A seal is base64url parts joined by `*`, plus iron-session's `~2`: refuse anything else early.
const SEAL = /^Fe26\.2\*[0-9A-Za-z_]*\*[A-Za-z0-9_*-]+(~[0-9]+)?$/
/**
 * How far ahead of this server's clock a cookie may say it was sealed or begun: servers' clocks
 * differ by a little, so such a cookie lives at most this much past its ttl (absoluteTtl). One
 * further ahead is refused (`issued-ahead`).
 */
export const CLOCK_SKEW_TOLERANCE_MS = 60_000
// Opened seals kept (see SessionCodec.open): at most this many cookies of at most 4 KB each.
const OPENED_LIMIT = 1_000

/** A seal that unsealed and held a well-formed envelope. */
interface OpenedSeal {
  /** The envelope as JSON: each hit parses its own copy, which the request may change freely. */
  readonly json: string
  /** iron's own expiry (ms since the epoch, authenticated by the seal's MAC), on the real clock. */
  readonly sealExpiresAt: number
}

/** A new random id: 128 bits, base64url (22 characters). */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

/** A new CSRF synchronizer token: 128 bits, base64url. */
export function newCsrfToken(): string {
  return randomBytes(16).toString('base64url')
}

/**
 * Splits a cookie value into the optional clear id hint (`<id>.` before the seal) and the seal.
 * The hint is unauthenticated: it only lets a registry lookup start early.
 */
export function splitCookieValue(value: string): {
  readonly hint: string | undefined
  readonly seal: string
} {
  if (value.length > 23 && value.charCodeAt(22) === 46 /* . */) {
    const hint = value.slice(0, 22)
    if (ID.test(hint)) return { hint, seal: value.slice(23) }
  }
  return { hint: undefined, seal: value }
}

/**
 * Seals and unseals session cookies: iron-session's `sealData`/`unsealData`, then our envelope
 * check, our expiry check against the injectable clock, and the app's schema. Every cookie an
 * adapter receives goes through {@link SessionCodec.open}, which never throws.
 */
export class SessionCodec {
  readonly #config: ResolvedSessionConfig
  readonly #schema: z.ZodType
  readonly #opened = new Map<string, OpenedSeal>()

  constructor(config: ResolvedSessionConfig, schema: z.ZodType) {
    this.#config = config
    this.#schema = schema
  }

  /** Unseals and validates a cookie value; an unusable one says why, and never throws. */
  async open(value: string, nowMs: number): Promise<OpenedSession> {
    if (value.length > COOKIE_LIMIT_BYTES || !SEAL.test(value)) {
      return { ok: false, reason: 'invalid-seal' }
    }
    let envelope: SealedEnvelope
    const opened = this.#opened.get(value)
    if (opened !== undefined && Date.now() < opened.sealExpiresAt) {
      // The same bytes unsealed before: skip the key derivation and decryption (most of a
      // request's session cost), not the expiry and schema checks below.
      envelope = JSON.parse(opened.json) as SealedEnvelope
    } else {
      const unsealed = await this.#unseal(value)
      if (!unsealed.ok) return unsealed
      envelope = unsealed.envelope
    }
    // Stamped ahead of this clock by more than servers' clocks differ: a server whose clock runs
    // fast, or a replay. Refused: counted from that future its ttl would run past its end here,
    // and counted from now (as before) a kept copy began again on every request, never ending.
    if (Math.max(envelope.i, envelope.c) - nowMs > CLOCK_SKEW_TOLERANCE_MS) {
      return {
        ok: false,
        reason: 'issued-ahead',
        session: { id: envelope.id, userId: envelope.u },
      }
    }
    if (
      nowMs - envelope.i > this.#config.ttlSeconds * 1000 ||
      nowMs - envelope.c > this.#config.absoluteTtlSeconds * 1000
    ) {
      return { ok: false, reason: 'expired' }
    }
    const parsed = this.#schema.safeParse(envelope.d)
    if (!parsed.success) {
      return {
        ok: false,
        reason: 'schema',
        issues: parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join('.'),
          message: issue.message,
        })),
      }
    }
    return {
      ok: true,
      keyId: value.split('*', 2)[1] ?? '',
      payload: {
        id: envelope.id,
        createdAt: envelope.c,
        issuedAt: envelope.i,
        userId: envelope.u,
        data: parsed.data,
        flash: envelope.f,
        csrfToken: envelope.t,
      },
    }
  }

  /** iron-session's unseal and the envelope's shape check; a genuine seal is remembered. */
  async #unseal(
    value: string,
  ): Promise<
    { readonly ok: true; readonly envelope: SealedEnvelope } | Extract<OpenedSession, { ok: false }>
  > {
    let failure: UnsealErrorReason | undefined
    let unsealed: unknown
    try {
      unsealed = await unsealData<unknown>(value, {
        password: this.#config.passwords,
        // iron's own expiry, on the real clock, is a backstop; open() checks ours on the app's clock.
        ttl: this.#config.ttlSeconds,
        onUnsealError: (reason) => {
          failure = reason
        },
      })
    } catch {
      return { ok: false, reason: 'invalid-seal' }
    }
    if (failure !== undefined) {
      return {
        ok: false,
        reason:
          failure === 'expired'
            ? 'expired'
            : failure === 'unknown-password'
              ? 'unknown-key'
              : 'invalid-seal',
      }
    }
    const envelope = asEnvelope(unsealed)
    if (envelope === undefined) return { ok: false, reason: 'malformed' }
    // Only a genuine seal is kept (a forged cookie never gets in); first in, first out.
    if (this.#opened.size >= OPENED_LIMIT)
      this.#opened.delete(this.#opened.keys().next().value as string)
    this.#opened.set(value, { json: JSON.stringify(envelope), sealExpiresAt: sealExpiry(value) })
    return { ok: true, envelope }
  }

  /**
   * Seals a payload with the newest key into a cookie value. With `idHint`, the value is
   * `<id>.<seal>`: the id in clear lets a registry lookup start while the seal is opened (the
   * opened id must match it). Throws {@link SessionTooLargeError} when `name=value` would pass
   * the 4096 bytes browsers keep once sealed under a key id of MAX_KEY_ID_DIGITS digits: a
   * later request re-seals the cookie under the newest key of its day, and a cookie that grew
   * past the limit there was never re-issued, so retiring its key logged the user out. With
   * `reissue` (a session re-sealed as its cookie held it), only the bytes sent now count: a
   * cookie sealed before that rule must still roll.
   */
  async seal(
    payload: SessionPayload,
    options: { readonly idHint?: boolean; readonly reissue?: boolean } = {},
  ): Promise<string> {
    const envelope: SealedEnvelope = {
      v: 1,
      id: payload.id,
      c: payload.createdAt,
      i: payload.issuedAt,
      d: payload.data,
      t: payload.csrfToken,
    }
    if (payload.userId !== undefined) envelope.u = payload.userId
    if (payload.flash !== undefined && Object.keys(payload.flash).length > 0)
      envelope.f = { ...payload.flash }
    // Sealed as its JSON, which is what the next request reads (the engine checked the data
    // reads back from it): iron refuses a schema's output such as z.coerce.date()'s Date.
    const sealed = await sealData(JSON.parse(JSON.stringify(envelope)) as SealedEnvelope, {
      password: this.#config.passwords,
      ttl: this.#config.ttlSeconds,
    })
    const value = options.idHint === true ? `${payload.id}.${sealed}` : sealed
    const bytes = cookieBytes(this.#config.cookieName, value)
    // The key id is the only part of a seal whose length changes when the same payload is
    // sealed again (iron's salts, IVs, MACs and expiry have fixed lengths).
    const widest = bytes + MAX_KEY_ID_DIGITS - this.#config.newestKeyId.length
    if ((options.reissue === true ? bytes : widest) > COOKIE_LIMIT_BYTES) {
      throw new SessionTooLargeError(widest, COOKIE_LIMIT_BYTES)
    }
    return value
  }
}

// Checked by hand rather than by zod: this runs on every request and must stay cheap.
function asEnvelope(value: unknown): SealedEnvelope | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const e = value as Record<string, unknown>
  if (e.v !== 1) return undefined
  if (typeof e.id !== 'string' || !ID.test(e.id)) return undefined
  if (!isTime(e.c) || !isTime(e.i)) return undefined
  if (e.u !== undefined && (typeof e.u !== 'string' || e.u === '')) return undefined
  if (typeof e.t !== 'string' || !TOKEN.test(e.t)) return undefined
  if (e.f !== undefined) {
    if (typeof e.f !== 'object' || e.f === null || Array.isArray(e.f)) return undefined
    for (const message of Object.values(e.f)) if (typeof message !== 'string') return undefined
  }
  return e as unknown as SealedEnvelope
}

/** The expiry iron wrote in the seal (its sixth `*` field), or never when it wrote none. */
function sealExpiry(value: string): number {
  const field = value.split('*', 6)[5]
  return field === undefined || field === '' ? Number.POSITIVE_INFINITY : Number(field)
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
