import { CLOCK, type Clock, SystemClock } from '@mortar/core'
import { delayOption } from '../../module/delay-option.js'
import { NotifyConfigError } from '../../errors.js'
import type { Channel, ChannelHost, ChannelResult, Outgoing } from '../channel.js'
import { classifyHttpResult } from '../http/classify-response.js'
import { keepAliveAgents } from '../http/keep-alive-agents.js'
import { isLoopbackUrl } from '../loopback.js'
import { httpPost } from '../http/http-post.js'
import { withoutSecrets } from '../without-secrets.js'
import type { SmsMessage } from './sms-message.js'

/** Options of {@link smsChannel}: a Twilio-shaped Messages API. */
export interface SmsChannelOptions {
  /**
   * The provider's API root: `https://api.twilio.com`, or a local stub in development and tests.
   * https, since every request carries the auth token; http only to a loopback host.
   */
  readonly baseUrl: string
  readonly accountSid: string
  /** The API secret; validated at creation, never logged. */
  readonly authToken: string
  /** The sending number (E.164) or messaging service id (`MG…`). */
  readonly from: string
  /** Give up on an answer after this many ms; 10 000 by default. */
  readonly timeoutMs?: number
}

const E164 = /^\+[1-9]\d{6,14}$/

/**
 * SMS through a Twilio-shaped HTTP API: `POST {baseUrl}/2010-04-01/Accounts/{sid}/Messages.json`
 * with `To`, `From` (or `MessagingServiceSid`) and `Body`, HTTP basic auth, and the delivery's id
 * as the `Idempotency-Key` header. The provider's message `sid` becomes the delivery's provider
 * id; a 2xx without one is transient (retried under the same key). See {@link smsChannel}.
 */
export class SmsChannel implements Channel<'sms'> {
  readonly name = 'sms'
  readonly idempotent = true
  readonly #endpoint: string
  readonly #authorization: string
  // The forms the auth token travels in, kept out of the provider's answer a reason quotes.
  readonly #secrets: readonly string[]
  readonly #from: string
  /** Its `timeoutMs`: the whole request, from connecting to the answer, is given up after it. */
  readonly sendTimeoutMs: number
  readonly #agents = keepAliveAgents()
  // The app's once opened: a Retry-After date is measured on the clock its retry is scheduled on.
  #clock: Clock = new SystemClock()

  constructor(options: SmsChannelOptions) {
    // The URL is not quoted in these errors: it is config, and may hold a pasted credential.
    let base: URL
    try {
      base = new URL(options.baseUrl)
    } catch {
      throw new NotifyConfigError('smsChannel: baseUrl is not a URL (https://api.twilio.com).')
    }
    if (base.protocol !== 'https:' && !(base.protocol === 'http:' && isLoopbackUrl(base))) {
      // Every request carries the auth token: over http it would cross the network in clear.
      throw new NotifyConfigError(
        `smsChannel: baseUrl must be https (http only to a loopback host such as a local stub), not ${base.protocol}//${base.host}.`,
      )
    }
    if (base.username !== '' || base.password !== '') {
      throw new NotifyConfigError(
        'smsChannel: baseUrl may not carry credentials; give them as accountSid and authToken.',
      )
    }
    if (!/^[A-Za-z0-9_-]+$/.test(options.accountSid ?? '')) {
      throw new NotifyConfigError('smsChannel needs an accountSid.')
    }
    if (typeof options.authToken !== 'string' || options.authToken.length < 8) {
      throw new NotifyConfigError('smsChannel needs an authToken of at least 8 characters.')
    }
    if (!E164.test(options.from) && !/^MG[0-9a-zA-Z]+$/.test(options.from)) {
      throw new NotifyConfigError(
        `smsChannel: from must be a number in E.164 form (+15550100) or a messaging service id (MG…).`,
      )
    }
    const path = `${base.pathname.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`
    this.#endpoint = new URL(path, base).toString()
    const credentials = Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')
    this.#authorization = `Basic ${credentials}`
    this.#secrets = [options.authToken, encodeURIComponent(options.authToken), credentials]
    this.#from = options.from
    this.sendTimeoutMs = delayOption('smsChannel: timeoutMs', options.timeoutMs, 10_000)
  }

  route(recipient: { readonly phone?: string | undefined }): string | undefined {
    return recipient.phone
  }

  validate(message: SmsMessage, to: string): string | undefined {
    if (!E164.test(to)) return `'${to}' is not a phone number in E.164 form (+15550100)`
    if (typeof message.text !== 'string' || message.text.trim() === '') return 'the SMS has no text'
    return undefined
  }

  async send(outgoing: Outgoing<SmsMessage>): Promise<ChannelResult> {
    const invalid = this.validate(outgoing.message, outgoing.to)
    if (invalid !== undefined) return { status: 'permanent', reason: invalid }
    const form = new URLSearchParams({ To: outgoing.to, Body: outgoing.message.text })
    form.set(this.#from.startsWith('MG') ? 'MessagingServiceSid' : 'From', this.#from)
    const answer = await httpPost({
      url: this.#endpoint,
      headers: {
        authorization: this.#authorization,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'idempotency-key': outgoing.id,
      },
      body: form.toString(),
      signal: outgoing.signal,
      timeoutMs: this.sendTimeoutMs,
      agents: this.#agents,
    })
    const result =
      answer.kind === 'response'
        ? { ...answer, body: withoutSecrets(answer.body, this.#secrets) }
        : answer
    // Bad credentials are the provider refusing us, not the message: a fallback may take it.
    if (result.kind === 'response' && (result.status === 401 || result.status === 403)) {
      return {
        status: 'not-accepted',
        reason: `HTTP ${result.status}: the provider refused the credentials`,
      }
    }
    return classifyHttpResult(result, {
      nowMs: this.#clock.nowMs(),
      // A provider that took the message answers its sid. A 2xx without one (an error body, a
      // proxy's page, a body cut off) never said it took it: retried under the same
      // Idempotency-Key (never a second message there), never handed to a fallback provider.
      accepted: (status, body) => {
        const sid = parseSid(body)
        return sid === undefined
          ? {
              status: 'transient',
              reason: `HTTP ${status} without a message sid${body ? `: ${body.slice(0, 200)}` : ''}`,
            }
          : { status: 'accepted', providerMessageId: sid }
      },
    })
  }

  async open(app: ChannelHost): Promise<void> {
    this.#clock = app.resolve(CLOCK)
  }

  async close(): Promise<void> {
    this.#agents.destroy()
  }
}

function parseSid(body: string): string | undefined {
  try {
    const sid = (JSON.parse(body) as { sid?: unknown } | null)?.sid
    return typeof sid === 'string' && sid !== '' ? sid : undefined
  } catch {
    return undefined
  }
}

/**
 * The SMS channel over a Twilio-shaped API. Recipients' numbers come from `phone` (E.164).
 *
 * @example
 * ```ts
 * import { notifyModule, smsChannel } from '@mortar/notify'
 *
 * notifyModule({
 *   channels: [
 *     smsChannel({
 *       baseUrl: process.env.SMS_URL ?? 'https://api.twilio.com',
 *       accountSid: process.env.TWILIO_SID ?? '',
 *       authToken: process.env.TWILIO_TOKEN ?? '',
 *       from: '+15550100',
 *     }),
 *   ],
 * })
 * ```
 */
export function smsChannel(options: SmsChannelOptions): SmsChannel {
  return new SmsChannel(options)
}
