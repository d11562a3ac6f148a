// A channel for the ledger's own tests: records what it is given, answers as scripted.
import type { Channel, ChannelName, ChannelResult, Outgoing } from '../channels/channel.js'
import type { Recipient } from '../notification/recipient.js'

export interface RecordingChannel<C extends ChannelName> extends Channel<C> {
  readonly sent: Outgoing<unknown>[]
  /** The result of the next sends, in order; `accepted` once they run out. */
  readonly script: ChannelResult[]
  /** Awaited by each send before it answers, when set: a test holds a send at the channel. */
  beforeSend: ((outgoing: Outgoing<unknown>) => Promise<void>) | undefined
  /** Its send's bound, when a test sets one (see `Channel.sendTimeoutMs`). */
  sendTimeoutMs: number | undefined
}

export function recordingChannel<C extends ChannelName>(
  name: C,
  route: (recipient: Recipient) => string | undefined,
): RecordingChannel<C> {
  const sent: Outgoing<unknown>[] = []
  const script: ChannelResult[] = []
  const channel: RecordingChannel<C> = {
    name,
    sent,
    script,
    beforeSend: undefined,
    sendTimeoutMs: undefined,
    route,
    async send(outgoing): Promise<ChannelResult> {
      await channel.beforeSend?.(outgoing as Outgoing<unknown>)
      const result = script.shift() ?? {
        status: 'accepted',
        providerMessageId: `p-${sent.length + 1}`,
      }
      if (result.status === 'accepted') sent.push(outgoing as Outgoing<unknown>)
      return result
    },
  }
  return channel
}
