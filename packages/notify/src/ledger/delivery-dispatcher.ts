import type { EventBus, JobContext, Logger } from '@mortar/core'
import type { AnyChannel, ChannelName, ChannelResult } from '../channels/channel.js'
import type { AttemptOutcome, DeliveryLedger } from './delivery-ledger.js'
import type { DeliveryRow } from './delivery-table.js'

/** What a {@link DeliveryDispatcher} is made of. */
export interface DeliveryDispatcherInit {
  readonly ledger: DeliveryLedger
  readonly channels: ReadonlyMap<ChannelName, AnyChannel>
  readonly bus: EventBus
  readonly logger: Logger
  readonly recipientExists: ((recipientId: string) => boolean | Promise<boolean>) | undefined
}

/** Thrown to have the jobs engine retry a delivery later, with backoff. */
export class RetryDeliveryError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'RetryDeliveryError'
  }
}

/**
 * Runs one attempt of one delivery, from its job: claims the row (skipping a delivery already
 * sent, dead or suppressed: a job that runs twice sends once), asks whether the recipient still
 * exists, sends through the channel with the delivery's id, records the result and publishes
 * `notification.sent` or `notification.failed`. A transient result throws so the job is
 * retried with backoff; after the job's last attempt the delivery is dead.
 */
export class DeliveryDispatcher {
  readonly #init: DeliveryDispatcherInit

  constructor(init: DeliveryDispatcherInit) {
    this.#init = init
  }

  async deliver(
    id: string,
    job: Pick<JobContext, 'attempt' | 'maxAttempts' | 'signal'>,
  ): Promise<void> {
    const { ledger } = this.#init
    const row = await ledger.claim(id)
    if (row === undefined) return
    const finish = async (outcome: Omit<AttemptOutcome, 'id'>) => ledger.finish({ id, ...outcome })

    if (this.#init.recipientExists !== undefined && !row.recipient_id.startsWith('route:')) {
      if (!(await this.#init.recipientExists(row.recipient_id))) {
        await finish({ status: 'suppressed', error: 'recipient deleted before delivery' })
        return
      }
    }
    const channel = this.#init.channels.get(row.channel as ChannelName)
    let result: ChannelResult
    if (channel === undefined || row.address === null) {
      result = {
        status: 'permanent',
        reason: `no '${row.channel}' channel is configured in the notify module`,
      }
    } else {
      try {
        result = await channel.send({
          id,
          to: row.address,
          message: JSON.parse(row.message) as never,
          recipientId: row.recipient_id,
          type: row.type,
          attempt: Number(row.attempts),
          signal: job.signal,
        })
      } catch (error) {
        // A channel should report results; a throw leaves us not knowing whether it went out.
        result = { status: 'transient', reason: `the channel threw: ${(error as Error).message}` }
      }
    }

    if (result.status === 'accepted') {
      await finish({ status: 'sent', providerMessageId: result.providerMessageId })
      await this.#publishSent(row, result.providerMessageId)
      return
    }
    const final = result.status === 'permanent' || job.attempt >= job.maxAttempts
    await finish({ status: final ? 'dead' : 'failed', error: `${result.status}: ${result.reason}` })
    await this.#init.bus.publish('notification.failed', {
      deliveryId: row.id,
      notificationId: row.notification_id,
      type: row.type,
      category: row.category,
      recipientId: row.recipient_id,
      channel: row.channel as ChannelName,
      reason: result.reason,
      result: result.status,
      attempts: Number(row.attempts),
      final,
    })
    if (!final)
      throw new RetryDeliveryError(
        `${row.channel} delivery ${row.id}: ${result.status}: ${result.reason}`,
      )
  }

  async #publishSent(row: DeliveryRow, providerMessageId: string | undefined): Promise<void> {
    await this.#init.bus.publish('notification.sent', {
      deliveryId: row.id,
      notificationId: row.notification_id,
      type: row.type,
      category: row.category,
      recipientId: row.recipient_id,
      channel: row.channel as ChannelName,
      providerMessageId,
      attempts: Number(row.attempts),
    })
  }
}
