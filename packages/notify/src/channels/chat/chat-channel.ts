import { CLOCK, type Clock, SystemClock } from '@mortar/core'
import { ALERT_CATEGORY } from '../../alerts/admin-alert.js'
import { NotifyConfigError } from '../../errors.js'
import type { Recipient } from '../../notification/recipient.js'
import { delayOption } from '../../module/delay-option.js'
import type { Channel, ChannelHost, ChannelResult, Outgoing } from '../channel.js'
import { AddressGuard, type AddressGuardOptions } from '../http/address-guard.js'
import { classifyHttpResult } from '../http/classify-response.js'
import { keepAliveAgents } from '../http/keep-alive-agents.js'
import { httpPost, type Lookup } from '../http/http-post.js'
import type { ChatMessage } from './chat-message.js'

/** Options of {@link chatChannel}. */
export interface ChatChannelOptions {
  /**
   * The incoming-webhook URL of the admins' room: admin alerts (category {@link ALERT_CATEGORY})
   * to a recipient without `routes.chat` go there. Nothing else does: a user's notification to
   * someone without a room of their own is suppressed (no address), never posted to the admins'
   * room. An http(s) URL without credentials, checked at creation (`E_NOTIFY_CONFIG`, not
   * quoting it).
   */
  readonly defaultUrl?: string
  /** Give up on an answer after this many ms; 10 000 by default. */
  readonly timeoutMs?: number
  /** The SSRF guard (as for webhooks); `allow` lists CIDR ranges to let through. */
  readonly addressGuard?: AddressGuardOptions
  /** The DNS lookup; `dns.lookup` by default. */
  readonly lookup?: Lookup
}

/**
 * A Slack-style chat channel: POSTs `{ text, blocks }` to an incoming-webhook URL (Slack,
 * Mattermost, Rocket.Chat and Discord's `/slack` endpoints take this shape). Such webhooks take no
 * idempotency key: a retry after an ambiguous timeout may post twice. See {@link chatChannel}.
 */
export class ChatChannel implements Channel<'chat'> {
  readonly name = 'chat'
  readonly #options: ChatChannelOptions
  /** Its `timeoutMs`: the whole request, from connecting to the answer, is given up after it. */
  readonly sendTimeoutMs: number
  readonly #guard: AddressGuard
  readonly #agents = keepAliveAgents()
  // The app's once opened: a Retry-After date is measured on the clock its retry is scheduled on.
  #clock: Clock = new SystemClock()

  constructor(options: ChatChannelOptions = {}) {
    // Checked at start, not quoted (the URL is the webhook's credential): else every message to
    // the room (admins' alerts) would die at its send, one by one.
    const { defaultUrl } = options
    if (defaultUrl !== undefined && defaultUrl !== '') {
      if (typeof defaultUrl !== 'string' || !URL.canParse(defaultUrl)) {
        throw new NotifyConfigError('chatChannel: defaultUrl is not a URL.')
      }
      const url = new URL(defaultUrl)
      if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
        throw new NotifyConfigError(
          'chatChannel: defaultUrl must be an http(s) URL without credentials.',
        )
      }
    }
    this.#options = options
    this.sendTimeoutMs = delayOption('chatChannel: timeoutMs', options.timeoutMs, 10_000)
    this.#guard = new AddressGuard(options.addressGuard)
  }

  route(_recipient: Recipient, notification?: { readonly category: string }): string | undefined {
    return notification?.category === ALERT_CATEGORY ? this.#options.defaultUrl : undefined
  }

  validate(message: ChatMessage, to: string): string | undefined {
    if (typeof message.text !== 'string' || message.text.trim() === '')
      return 'the chat message has no text'
    try {
      const url = new URL(to)
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        return 'the address is not an http(s) URL'
    } catch {
      return 'the address is not a URL'
    }
    return undefined
  }

  async send(outgoing: Outgoing<ChatMessage>): Promise<ChannelResult> {
    const invalid = this.validate(outgoing.message, outgoing.to)
    if (invalid !== undefined) return { status: 'permanent', reason: invalid }
    const { text, blocks } = outgoing.message
    const result = await httpPost({
      url: outgoing.to,
      headers: { 'content-type': 'application/json', 'user-agent': 'mortar-notify' },
      body: JSON.stringify(blocks === undefined ? { text } : { text, blocks }),
      signal: outgoing.signal,
      timeoutMs: this.sendTimeoutMs,
      guard: this.#guard,
      lookup: this.#options.lookup,
      agents: this.#agents,
    })
    return classifyHttpResult(result, { nowMs: this.#clock.nowMs() })
  }

  async open(app: ChannelHost): Promise<void> {
    this.#clock = app.resolve(CLOCK)
  }

  async close(): Promise<void> {
    this.#agents.destroy()
  }
}

/**
 * The chat channel. A recipient's room is `routes.chat`; `defaultUrl` is the admins' room,
 * where admin alerts to recipients without one go.
 *
 * @example
 * ```ts
 * import { chatChannel, notifyModule } from '@mortar/notify'
 *
 * notifyModule({ channels: [chatChannel({ defaultUrl: process.env.SLACK_WEBHOOK_URL })] })
 * ```
 */
export function chatChannel(options: ChatChannelOptions = {}): ChatChannel {
  return new ChatChannel(options)
}
