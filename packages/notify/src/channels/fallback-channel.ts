import { NotifyConfigError } from '../errors.js'
import {
  type Channel,
  type ChannelMessages,
  type ChannelName,
  type ChannelHost,
  type ChannelResult,
  DEFAULT_SEND_TIMEOUT_MS,
  type Outgoing,
} from './channel.js'
import type { Recipient } from '../notification/recipient.js'

/**
 * One channel over several providers, tried in order. The next provider is tried only when the
 * previous one reported `not-accepted` (it certainly did not take the message); after
 * `transient` (a timeout once the request was out: it may have been accepted) the delivery is
 * retried later on the first provider, so a fallback never makes a double send.
 *
 * @example
 * ```ts
 * import { fallbackChannel, smsChannel } from '@mortar/notify'
 *
 * const sms = fallbackChannel([
 *   smsChannel({ baseUrl: 'https://api.twilio.com', accountSid, authToken, from }),
 *   smsChannel({ baseUrl: 'https://sms.backup.example', accountSid: backupSid, authToken: backupToken, from }),
 * ])
 * ```
 */
export function fallbackChannel<C extends ChannelName>(
  providers: readonly Channel<C>[],
): Channel<C> {
  const [first] = providers
  if (first === undefined)
    throw new NotifyConfigError('fallbackChannel needs at least one provider.')
  for (const provider of providers) {
    if (provider.name !== first.name) {
      throw new NotifyConfigError(
        `fallbackChannel: every provider must be a '${first.name}' channel, not '${provider.name}'.`,
      )
    }
  }
  return {
    name: first.name,
    // One message whichever provider sends it only if each of them keys it by the delivery id.
    idempotent: providers.every((provider) => provider.idempotent === true),
    // The providers are tried one after another.
    sendTimeoutMs: providers.reduce(
      (sum, provider) => sum + (provider.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS),
      0,
    ),
    route: (recipient: Recipient) => first.route(recipient),
    validate: (message: ChannelMessages[C], to: string) => first.validate?.(message, to),
    async send(outgoing: Outgoing<ChannelMessages[C]>): Promise<ChannelResult> {
      const reasons: string[] = []
      const waits: (number | undefined)[] = []
      for (const provider of providers) {
        const result = await provider.send(outgoing)
        if (result.status !== 'not-accepted') {
          return reasons.length === 0 || result.status === 'accepted'
            ? result
            : { ...result, reason: `${reasons.join('; ')}; ${result.reason}` }
        }
        reasons.push(result.reason)
        waits.push(result.retryAfterMs)
      }
      const reason = reasons.join('; ')
      // The next attempt tries every provider again: it waits as long as the soonest one asked,
      // and not at all past the backoff when one asked nothing.
      return waits.every((ms): ms is number => ms !== undefined)
        ? { status: 'not-accepted', reason, retryAfterMs: Math.min(...waits) }
        : { status: 'not-accepted', reason }
    },
    // Each provider is opened as it would be alone: one that loads its driver or checks its
    // environment there would otherwise fail every send, or pass a check it should fail at start.
    async open(app: ChannelHost) {
      for (const provider of providers) await provider.open?.(app)
    },
    async close() {
      await Promise.all(providers.map((provider) => provider.close?.()))
    },
  }
}
