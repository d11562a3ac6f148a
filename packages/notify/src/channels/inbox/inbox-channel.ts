import { globalToken, thrownText } from '@mortar/core'
import { isOnDemand, type Recipient } from '../../notification/recipient.js'
import type { Channel, ChannelHost, ChannelResult, Outgoing } from '../channel.js'
import { type InboxMessage, inboxMessageProblem } from './inbox-message.js'
import type { Inbox } from './inbox-store.js'

/**
 * The app's {@link Inbox}, bound by the notify module.
 *
 * @example
 * ```ts
 * import { INBOX } from '@mortar/notify'
 *
 * const { unread } = await app.resolve(INBOX).counts(user.id)
 * ```
 */
export const INBOX = globalToken<Inbox>('mortar.notify.inbox')

/**
 * The in-app inbox channel: writes an item to the recipient's inbox in the app's database, keyed
 * by the delivery's id (a retry never makes a second item). Recipients are addressed by their
 * `id`; on-demand recipients (addresses only) have no inbox. See {@link inboxChannel}.
 */
export class InboxChannel implements Channel<'inbox'> {
  readonly name = 'inbox'
  readonly idempotent = true
  #inbox: Inbox | undefined

  constructor(inbox?: Inbox) {
    this.#inbox = inbox
  }

  async open(app: ChannelHost): Promise<void> {
    this.#inbox ??= app.resolve(INBOX)
  }

  route(recipient: Recipient): string | undefined {
    return isOnDemand(recipient) ? undefined : recipient.id
  }

  validate(message: InboxMessage): string | undefined {
    return inboxMessageProblem(message)
  }

  async send(outgoing: Outgoing<InboxMessage>): Promise<ChannelResult> {
    const invalid = this.validate(outgoing.message)
    if (invalid !== undefined) return { status: 'permanent', reason: invalid }
    const inbox = this.#inbox
    if (inbox === undefined) {
      return {
        status: 'not-accepted',
        reason: 'the inbox channel was not opened by the notify module',
      }
    }
    try {
      await inbox.add({
        id: outgoing.id,
        recipientId: outgoing.to,
        type: outgoing.type,
        message: outgoing.message,
      })
      return { status: 'accepted', providerMessageId: outgoing.id }
    } catch (error) {
      return { status: 'transient', reason: `the inbox write failed: ${thrownText(error)}` }
    }
  }
}

/**
 * The in-app inbox channel (its table comes with the notify module's migrations).
 *
 * @example
 * ```ts
 * import { inboxChannel, notifyModule } from '@mortar/notify'
 *
 * notifyModule({ channels: [inboxChannel()] })
 * ```
 */
export function inboxChannel(): InboxChannel {
  return new InboxChannel()
}
