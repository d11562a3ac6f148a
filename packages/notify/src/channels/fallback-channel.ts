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
import { refusal } from './channel-refusal.js'
import { readChannelResult, thrownResult } from './channel-result.js'

/**
 * One channel over several providers, tried in order. The next provider is tried only when the
 * previous one certainly did not take the message: `not-accepted`, or `permanent` (it refused it
 * for good: a number it does not serve). A provider that did not take it for the recipient but
 * took it for others (a mail's cc and bcc: `sentTo`) hands the next only the rest, and the result
 * names those others, so that no later attempt sends them a second copy either. After `transient` (a timeout once the request was out:
 * it may have been accepted), a throw or an answer that is no result (`undefined`, an unknown
 * status: the ledger records it as ambiguous) none is tried. The message is dead at once only when every provider
 * refused it for good; when one was only down, it is retried, from the first provider again.
 *
 * With several providers it is never `idempotent`, even when each provider is: each keys the
 * message by the delivery id, but not the others' copies. A retry after a later provider's
 * ambiguous `transient` may go through an earlier one that is up again, so the ledger marks each
 * send and counts such a send as a possible duplicate.
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
  const label = (index: number) => `provider ${index + 1} of ${providers.length}`
  // Each provider's reason names it when there are several: which one refused, or threw.
  const named = (index: number, reason: string) =>
    providers.length === 1 ? reason : `${label(index)}: ${reason}`
  return {
    name: first.name,
    // A retry may go through another provider than one that may have taken the message: only a
    // lone provider's key makes a resend one message.
    idempotent: providers.length === 1 && first.idempotent === true,
    // The providers are tried one after another.
    sendTimeoutMs: providers.reduce(
      (sum, provider) => sum + (provider.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS),
      0,
    ),
    route: (recipient: Recipient, notification?: { readonly category: string }) =>
      first.route(recipient, notification),
    // A message can never be sent only when no provider can send it. Each provider is asked as
    // the ledger asks a channel (a check that throws refuses), and its reason names it.
    validate(message: ChannelMessages[C], to: string) {
      const reasons: string[] = []
      for (const [index, provider] of providers.entries()) {
        const reason = refusal(provider, message, to)
        if (reason === undefined) return undefined
        reasons.push(named(index, reason))
      }
      return reasons.join('; ')
    },
    async send(outgoing: Outgoing<ChannelMessages[C]>): Promise<ChannelResult> {
      const reasons: string[] = []
      // The waits asked by the providers that were down (`not-accepted`), not those that refused.
      const waits: (number | undefined)[] = []
      // Whom a provider took it for while not taking it for `to` (an earlier attempt's, an
      // earlier provider's): the next leaves them out, and the result names them all, for the
      // ledger to keep for the next attempt.
      const sentTo = [...(outgoing.sentTo ?? [])]
      const given = sentTo.length
      const withSentTo = <R extends ChannelResult>(result: R): R =>
        sentTo.length === given ? result : { ...result, sentTo }
      for (const [index, provider] of providers.entries()) {
        // A send given up (its attempt's bound passed, the worker stops) tries no further
        // provider: the ledger waits for it no longer, and may let another attempt send it.
        // Not-accepted, not permanent: a provider not tried may yet take it.
        if (reasons.length > 0 && outgoing.signal.aborted) {
          reasons.push('the send was given up: no further provider tried')
          return withSentTo({ status: 'not-accepted', reason: reasons.join('; ') })
        }
        // The signal named: a spread copies own fields only, and the ledger's is a getter.
        const handed =
          sentTo.length === 0 ? outgoing : { ...outgoing, signal: outgoing.signal, sentTo }
        let answer: unknown
        try {
          answer = await provider.send(handed)
        } catch (error) {
          // It may have gone out: no other provider is tried, and the reason names the one
          // that threw (the ledger would name only the channel).
          const threw = thrownResult(error, first.name, 'threw', label(index))
          return withSentTo({ ...threw, reason: [...reasons, threw.reason].join('; ') })
        }
        const result = readChannelResult(answer, first.name, label(index))
        // No result: it may have gone out, so no other provider is tried. Handed on as it is,
        // the ledger reads it as this provider's (see `readChannelResult`).
        if (result.status === 'ambiguous') return result as unknown as ChannelResult
        if (result.status === 'accepted') return result
        sentTo.push(...(result.sentTo ?? []))
        if (result.status === 'transient') {
          return withSentTo({
            ...result,
            reason: [...reasons, named(index, result.reason)].join('; '),
          })
        }
        reasons.push(named(index, result.reason))
        if (result.status === 'not-accepted') waits.push(result.retryAfterMs)
      }
      const reason = reasons.join('; ')
      if (waits.length === 0) return withSentTo({ status: 'permanent', reason })
      // The next attempt tries every provider again: it waits as long as the soonest one asked,
      // and not at all past the backoff when one asked nothing.
      return withSentTo(
        waits.every((ms): ms is number => ms !== undefined)
          ? { status: 'not-accepted', reason, retryAfterMs: Math.min(...waits) }
          : { status: 'not-accepted', reason },
      )
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
