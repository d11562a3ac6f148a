import type { AnyChannel, ChannelName } from '../channels/channel.js'
import type { Rerender } from '../ledger/delivery-ledger.js'
import { type AddressSeal, deliveryAddressPlace } from '../ledger/sealed-address.js'
import { Notification, type RenderContext } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { prepareMessage, rendererName } from '../notification/render.js'
import type { Digest } from './define-digest.js'
import { closedDigestBatch, DIGEST_KEY_PREFIX as KEY_PREFIX } from './digest-store.js'

// A batch's deliveries carry `digest:<batch id>` as their idempotency key: one per recipient and
// channel however often the close runs, and the way back to the batch's items for a replay.
const TYPE_PREFIX = 'digest.'

/** A closed batch of a digest as a notification: its channels, its renderers over the items. */
export class DigestNotification extends Notification<Recipient> {
  readonly type: string
  readonly category: string | undefined
  readonly key: string
  readonly #channels: readonly ChannelName[]

  constructor(digest: Digest, batchId: string, items: readonly unknown[]) {
    super()
    this.type = `${TYPE_PREFIX}${digest.key}`
    this.category = digest.category
    this.key = `${KEY_PREFIX}${batchId}`
    const renderers = this as unknown as Record<string, unknown>
    for (const channel of digest.channels) {
      renderers[rendererName(channel)] = (recipient: Recipient, context: RenderContext) =>
        digest.render(channel, items, recipient, context)
    }
    this.#channels = digest.channels
  }

  via(): readonly ChannelName[] {
    return this.#channels
  }
}

/** Why a delivery dead when written (no message stored) cannot be replayed unless a digest's. */
export const NOT_STORED =
  'not replayable: its notification is not stored, so notify() again once the cause is fixed'

/**
 * Renders again, from its batch's items (kept until it is sent or pruned), a digest's delivery
 * that went dead without a message (its renderer threw, its message was refused, its channel
 * was not configured), as the batch's close would render it now; or says why it cannot be.
 */
export function rerenderDigestDelivery(init: {
  readonly digests: ReadonlyMap<string, Digest>
  readonly channels: ReadonlyMap<ChannelName, AnyChannel>
  readonly seal: AddressSeal
  readonly defaults: { readonly locale: string; readonly timeZone: string }
}): Rerender {
  return async (db, row) => {
    const key = row.idempotency_key
    if (key === null || !key.startsWith(KEY_PREFIX) || !row.type.startsWith(TYPE_PREFIX)) {
      return { reason: NOT_STORED }
    }
    const batch = await closedDigestBatch(db, key.slice(KEY_PREFIX.length), init.seal)
    // Its own recipient's batch of its own digest, or no batch of it (an app's key alike).
    if (
      batch === undefined ||
      `${TYPE_PREFIX}${batch.digestKey}` !== row.type ||
      init.seal.recipientId(batch.recipient.id) !== row.recipient_id
    ) {
      return { reason: 'not replayable: its digest batch is gone (pruned)' }
    }
    const digest = init.digests.get(batch.digestKey)
    if (digest === undefined) {
      return { reason: `not replayable until digest '${batch.digestKey}' is registered again` }
    }
    const channel = row.channel as ChannelName
    const prepared = await prepareMessage(
      new DigestNotification(digest, batch.id, batch.items),
      init.seal.recipient(batch.recipient),
      channel,
      init.channels.get(channel),
      init.defaults,
    )
    if (!prepared.ok) return { reason: prepared.reason }
    return {
      message: prepared.json,
      address: init.seal.seal(prepared.address, deliveryAddressPlace(row.id)),
    }
  }
}
