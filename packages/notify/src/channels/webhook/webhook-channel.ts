import { CLOCK, type Clock, SystemClock, thrownText } from '@mortar/core'
import { delayOption } from '../../module/delay-option.js'
import { NotifyConfigError } from '../../errors.js'
import type { Channel, ChannelHost, ChannelResult, Outgoing } from '../channel.js'
import { AddressGuard, type AddressGuardOptions } from '../http/address-guard.js'
import { classifyHttpResult } from '../http/classify-response.js'
import { keepAliveAgents } from '../http/keep-alive-agents.js'
import { httpPost, type Lookup } from '../http/http-post.js'
import { signWebhook, webhookKey } from './standard-webhooks.js'
import type { WebhookMessage } from './webhook-message.js'

/** Options of {@link webhookChannel}. */
export interface WebhookChannelOptions {
  /**
   * The `whsec_…` signing secret, or a function giving each endpoint's (by URL and recipient).
   * Several secrets (the new one first, during a rotation) sign each webhook under each, so
   * receivers still checking with the old one accept it (Standard Webhooks' rotation). Checked
   * at creation when given as strings. A function that throws fails the send as `not-accepted`
   * (retried; nothing was sent); one that gives no usable secret fails it as `permanent`: dead
   * with the reason, replayable once the config is fixed.
   */
  readonly secret:
    | string
    | readonly string[]
    | ((
        url: string,
        recipientId: string,
      ) => string | readonly string[] | Promise<string | readonly string[]>)
  /** Give up on an answer after this many ms; 10 000 by default. */
  readonly timeoutMs?: number
  /**
   * The SSRF guard, always on: only global unicast addresses are reached (loopback, private,
   * link-local, metadata and reserved ones are refused) after DNS resolution and on every
   * redirect. `allow` lists CIDR ranges to let through (an internal receiver, a test server on
   * 127.0.0.1).
   */
  readonly addressGuard?: AddressGuardOptions
  /**
   * Redirects to follow, each re-checked by the guard; 3 by default. Only within the URL's origin:
   * the signed body is never posted to another (which could replay it to the endpoint), so a
   * redirect there is a permanent failure.
   */
  readonly maxRedirects?: number
  /** The DNS lookup; `dns.lookup` by default (tests pass their own). */
  readonly lookup?: Lookup
  /** The current time, for the signature's timestamp. */
  readonly now?: () => Date
}

/**
 * The webhook channel: POSTs `{ type, timestamp, data }` as JSON to the recipient's
 * `routes.webhook` URL, signed per Standard Webhooks, with the delivery's id as `webhook-id`
 * (the receiver's idempotency key: a retry is never a second event there). See
 * {@link webhookChannel}.
 */
export class WebhookChannel implements Channel<'webhook'> {
  readonly name = 'webhook'
  readonly idempotent = true
  readonly #options: WebhookChannelOptions
  /** Its `timeoutMs`: the whole request, from connecting to the answer, is given up after it. */
  readonly sendTimeoutMs: number
  readonly #guard: AddressGuard
  readonly #agents = keepAliveAgents()
  // The app's once opened: a Retry-After date is measured on the clock its retry is scheduled on.
  #clock: Clock = new SystemClock()

  constructor(options: WebhookChannelOptions) {
    if (typeof options.secret !== 'function') {
      const secrets: unknown = options.secret
      if (
        !(typeof secrets === 'string' || (Array.isArray(secrets) && secrets.length > 0)) ||
        !(Array.isArray(secrets) ? secrets : [secrets]).every((one) => typeof one === 'string')
      ) {
        throw new NotifyConfigError(
          'webhookChannel needs a secret: a whsec_… string, a list of them or a function.',
        )
      }
      keysOf(options.secret)
    }
    this.#options = options
    this.sendTimeoutMs = delayOption('webhookChannel: timeoutMs', options.timeoutMs, 10_000)
    this.#guard = new AddressGuard(options.addressGuard)
  }

  route(): undefined {
    return undefined
  }

  validate(_message: WebhookMessage, to: string): string | undefined {
    let url: URL
    try {
      url = new URL(to)
    } catch {
      return 'the address is not a URL'
    }
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? undefined
      : 'the address is not an http(s) URL'
  }

  async send(outgoing: Outgoing<WebhookMessage>): Promise<ChannelResult> {
    const invalid = this.validate(outgoing.message, outgoing.to)
    if (invalid !== undefined) return { status: 'permanent', reason: invalid }
    const now = this.#options.now?.() ?? new Date()
    const body = JSON.stringify({
      type: outgoing.message.type,
      timestamp: now.toISOString(),
      data: outgoing.message.data,
    })
    const keys = await this.#keys(outgoing)
    if (!Array.isArray(keys)) return keys
    const result = await httpPost({
      url: outgoing.to,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'mortar-notify',
        ...signWebhook(keys, { id: outgoing.id, timestamp: now, body }),
      },
      body,
      signal: outgoing.signal,
      timeoutMs: this.sendTimeoutMs,
      guard: this.#guard,
      lookup: this.#options.lookup,
      maxRedirects: this.#options.maxRedirects ?? 3,
      agents: this.#agents,
    })
    return classifyHttpResult(result, { nowMs: this.#clock.nowMs() })
  }

  /**
   * The endpoint's signing keys. A secret function's fault is the app's, not the network's: one
   * that throws (a secrets store out of reach) is retried as certainly not sent, one that gives
   * no usable secret is a permanent failure (replayable once the config is fixed). Neither
   * reason quotes what it gave or threw, which may hold the secret.
   */
  async #keys(outgoing: Outgoing<WebhookMessage>): Promise<Buffer[] | ChannelResult> {
    const { secret } = this.#options
    if (typeof secret !== 'function') return keysOf(secret)
    let given: unknown
    try {
      given = await secret(outgoing.to, outgoing.recipientId)
    } catch (error) {
      return {
        status: 'not-accepted',
        reason: `webhookChannel's secret function threw ${errorKind(error)} (its message is not recorded: it may quote the secret); nothing was sent`,
      }
    }
    const usable =
      typeof given === 'string' ||
      (Array.isArray(given) && given.length > 0 && given.every((one) => typeof one === 'string'))
    if (!usable) {
      return {
        status: 'permanent',
        reason: `webhookChannel's secret function gave ${given === null ? 'null' : Array.isArray(given) ? 'a list that is empty or not of strings' : typeof given}, not a whsec_… string or a list of them`,
      }
    }
    try {
      return keysOf(given as string | readonly string[])
    } catch (error) {
      // Its message names the rule the secret breaks, never the secret.
      return {
        status: 'permanent',
        reason: `webhookChannel's secret function gave an unusable secret: ${thrownText(error)}`,
      }
    }
  }

  async open(app: ChannelHost): Promise<void> {
    this.#clock = app.resolve(CLOCK)
  }

  async close(): Promise<void> {
    this.#agents.destroy()
  }
}

/** The keys of one secret or several; throws as {@link webhookKey} does. */
function keysOf(secret: string | readonly string[]): Buffer[] {
  return (typeof secret === 'string' ? [secret] : secret).map(webhookKey)
}

/** An error's name and code, without its message. */
function errorKind(error: unknown): string {
  if (!(error instanceof Error)) return `a ${typeof error}`
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? `${error.name} (${code})` : error.name
}

/**
 * The webhook channel. Recipients give their endpoint as `routes.webhook`; receivers check the
 * signature with {@link verifyWebhook} and drop repeats by the `webhook-id` header.
 *
 * @example
 * ```ts
 * import { notifyModule, webhookChannel } from '@mortar/notify'
 *
 * notifyModule({
 *   channels: [webhookChannel({ secret: process.env.WEBHOOK_SECRET ?? '' })],
 * })
 * // a recipient: { id: 'partner-1', routes: { webhook: 'https://partner.example/hooks' } }
 * ```
 */
export function webhookChannel(options: WebhookChannelOptions): WebhookChannel {
  return new WebhookChannel(options)
}
