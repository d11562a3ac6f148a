import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { secretWeakness } from '@mortar/core'
import { WebhookSignatureError } from '../../errors.js'

/** The three headers of a Standard Webhooks message. */
export type WebhookHeaders = {
  readonly 'webhook-id': string
  readonly 'webhook-timestamp': string
  readonly 'webhook-signature': string
}

const PREFIX = 'whsec_'
const MIN_KEY_BYTES = 24

/**
 * A new signing secret, `whsec_` and 32 random bytes in base64: give it to the receiver and to
 * the webhook channel.
 *
 * @example
 * ```ts
 * import { generateWebhookSecret } from '@mortar/notify'
 *
 * const secret = generateWebhookSecret() // 'whsec_…'
 * ```
 */
export function generateWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`
}

/** The HMAC key of a `whsec_…` secret; throws a {@link WebhookSignatureError} when it is malformed. */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret
  const key = Buffer.from(encoded, 'base64')
  if (
    key.length < MIN_KEY_BYTES ||
    key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')
  ) {
    throw new WebhookSignatureError(
      'config',
      `The webhook secret must be 'whsec_' and at least ${MIN_KEY_BYTES} bytes in base64; make one with generateWebhookSecret().`,
    )
  }
  const weakness = secretWeakness(key)
  if (weakness !== undefined) {
    throw new WebhookSignatureError(
      'config',
      `The webhook secret is guessable: ${weakness}; make one with generateWebhookSecret().`,
    )
  }
  return key
}

/**
 * Signs a webhook per Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` under the secret's
 * key, sent as `webhook-signature: v1,<base64>`. Given several secrets (a rotation: the new one
 * and the one receivers may still check with), it signs under each, the signatures separated by
 * spaces, so a receiver holding either accepts it. An invalid `timestamp` (or one before 1970)
 * is refused (`reason: 'config'`).
 *
 * @example
 * ```ts
 * import { signWebhook } from '@mortar/notify'
 *
 * const headers = signWebhook(secret, { id: 'msg_1', timestamp: new Date(), body: '{"type":"ping"}' })
 * ```
 */
export function signWebhook(
  secret: string | Buffer | readonly (string | Buffer)[],
  message: { readonly id: string; readonly timestamp: Date; readonly body: string },
): WebhookHeaders {
  const keys = (Array.isArray(secret) ? secret : [secret]).map((one: string | Buffer) =>
    typeof one === 'string' ? webhookKey(one) : one,
  )
  if (keys.length === 0) {
    throw new WebhookSignatureError('config', 'signWebhook needs at least one secret.')
  }
  const ms = message.timestamp instanceof Date ? message.timestamp.getTime() : Number.NaN
  // An invalid date signed 'NaN' (and one before 1970 a negative number): headers no receiver
  // accepts, sent as if valid.
  if (!(ms >= 0)) {
    throw new WebhookSignatureError(
      'config',
      'signWebhook: timestamp must be a valid Date from 1970 on.',
    )
  }
  const seconds = Math.floor(ms / 1000).toString()
  return {
    'webhook-id': message.id,
    'webhook-timestamp': seconds,
    'webhook-signature': keys
      .map((key) => `v1,${signature(key, message.id, seconds, message.body)}`)
      .join(' '),
  }
}

function signature(key: Buffer, id: string, seconds: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${seconds}.${body}`).digest('base64')
}

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /**
   * How far the timestamp may be from now, in seconds, a finite number from 0; 300 by default
   * (replay protection). Anything else is refused (`reason: 'config'`): NaN would let every
   * timestamp through.
   */
  readonly toleranceSeconds?: number
  /** The current time; `new Date()` by default. An invalid date is refused (`reason: 'config'`). */
  readonly now?: Date
}

/**
 * Checks a received webhook: the three headers are present, the timestamp is within the
 * tolerance, and one of the `v1` signatures is exactly the base64 HMAC of the id, the timestamp
 * as sent and the body (compared in constant time, byte for byte: no lenient decoding lets
 * other spellings of a signature through). Returns the
 * message id (drop a repeat by it); throws a {@link WebhookSignatureError} otherwise. Pass the
 * raw body, before JSON parsing.
 *
 * @example
 * ```ts
 * import { verifyWebhook } from '@mortar/notify'
 *
 * const id = verifyWebhook(secret, request.headers, rawBody)
 * if (await seen(id)) return new Response(null, { status: 204 })
 * ```
 */
export function verifyWebhook(
  secrets: string | readonly string[],
  headers: Headers | { readonly [name: string]: string | readonly string[] | undefined },
  body: string,
  options: VerifyWebhookOptions = {},
): string {
  // Header names are case-insensitive: a plain object may keep them as sent ('Webhook-Id', as
  // API gateways pass them on), where a lookup of the lower-case name alone finds nothing.
  const read = (name: keyof WebhookHeaders): string | undefined => {
    const value =
      headers instanceof Headers
        ? headers.get(name)
        : (headers[name] ??
          Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1])
    return typeof value === 'string' ? value : (value?.[0] ?? undefined)
  }
  const tolerance = options.toleranceSeconds ?? 300
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new WebhookSignatureError(
      'config',
      `verifyWebhook: toleranceSeconds must be a finite number of seconds from 0, not ${tolerance}.`,
    )
  }
  const keys = (Array.isArray(secrets) ? secrets : [secrets]).map(webhookKey)
  // No secret is a config fault, not every sender's: refused as such, as signWebhook does.
  if (keys.length === 0) {
    throw new WebhookSignatureError('config', 'verifyWebhook needs at least one secret.')
  }
  const id = read('webhook-id')
  const timestamp = read('webhook-timestamp')
  const signatures = read('webhook-signature')
  if (!id || !timestamp || !signatures) throw new WebhookSignatureError('missing-headers')
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
  // An invalid date is NaN, and no distance from NaN is over the tolerance: every replay got in.
  if (!Number.isFinite(now)) {
    throw new WebhookSignatureError('config', 'verifyWebhook: now must be a valid Date.')
  }
  if (!/^\d{1,15}$/.test(timestamp) || Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookSignatureError('timestamp')
  }
  const expected = keys.map((key) => Buffer.from(signature(key, id, timestamp, body)))
  for (const entry of signatures.split(' ')) {
    const [version, value] = entry.split(',', 2)
    if (version !== 'v1' || value === undefined) continue
    const given = Buffer.from(value)
    if (
      expected.some((signed) => signed.length === given.length && timingSafeEqual(signed, given))
    ) {
      return id
    }
  }
  throw new WebhookSignatureError('signature')
}
