import { randomUUID } from 'node:crypto'
import {
  type Clock,
  type Database,
  type EventBus,
  type JobDefinition,
  type JobQueue,
  publishAfterCommit,
  uuidV7,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import type { z } from 'zod'
import type { AnyChannel, ChannelName } from '../channels/channel.js'
import type { Digest } from '../digest/define-digest.js'
import { DigestNotification, NOT_STORED } from '../digest/digest-notification.js'
import { addDigestItem } from '../digest/digest-store.js'
import { NotifyConfigError } from '../errors.js'
import {
  type CheckNotification,
  type DigestEntry,
  type Notification,
  notificationFields,
} from '../notification/notification.js'
import type {
  DeliveryOutcome,
  Notifier,
  NotifyResult,
  Recipients,
} from '../notification/notifier.js'
import { checkRecipient, distinctRecipients, type Recipient } from '../notification/recipient.js'
import { channelsFor, prepareMessage } from '../notification/render.js'
import { type CategoryOptions } from '../preferences/preference-policy.js'
import {
  nextTimeOfDay,
  type QuietHours,
  storedQuietHours,
  storedQuietHoursEnd,
} from '../preferences/quiet-hours.js'
import type { DeliveryLedger } from './delivery-ledger.js'
import { type AddressSeal, deliveryAddressPlace } from './sealed-address.js'
import { type DeliveryRow, storedReason } from './delivery-table.js'

/** What a {@link LedgerNotifier} is made of. */
export interface LedgerNotifierInit {
  readonly database: Database
  readonly ledger: DeliveryLedger
  readonly jobs: JobQueue
  readonly deliverJob: JobDefinition<z.ZodType<{ id: string }>>
  readonly closeDigestJob: JobDefinition<z.ZodType<{ batchId: string }>>
  readonly clock: Clock
  readonly bus: EventBus
  readonly channels: ReadonlyMap<ChannelName, AnyChannel>
  readonly categories: Readonly<Record<string, CategoryOptions>>
  readonly digests: ReadonlyMap<string, Digest>
  readonly defaultLocale: string
  readonly defaultTimeZone: string
  /**
   * The module's window (`undefined`: none) and the channels quiet hours hold back, the
   * recipient's own window included.
   */
  readonly quietHours: {
    readonly window: QuietHours | undefined
    readonly channels: ReadonlySet<ChannelName>
  }
  /** Seals secret-bearing addresses before they are stored. */
  readonly seal: AddressSeal
}

interface Planned {
  readonly row: DeliveryRow
  readonly outcome: Omit<DeliveryOutcome, 'id' | 'status'> & { status: DeliveryOutcome['status'] }
}

/**
 * The notify module's {@link Notifier}: renders each recipient × channel, writes one delivery
 * per pair to the ledger in the caller's transaction (or a transaction of its own) and enqueues
 * one delivery job per delivery in the same transaction: one statement on PostgreSQL, two
 * elsewhere or with an idempotency key, per 1,000 deliveries (fewer when their messages are
 * large). Deliveries that cannot be sent (no channel, no address, a renderer that throws) are
 * recorded with the reason and never block the others.
 */
export class LedgerNotifier implements Notifier {
  readonly #init: LedgerNotifierInit

  constructor(init: LedgerNotifierInit) {
    this.#init = init
  }

  notify<N extends Notification<never>>(
    recipients: Recipients<N>,
    notification: N & CheckNotification<N>,
  ): Promise<NotifyResult> {
    const list: readonly Recipient[] = Array.isArray(recipients)
      ? recipients
      : [recipients as Recipient]
    try {
      for (const recipient of list) checkRecipient(recipient)
    } catch (error) {
      return Promise.reject(error)
    }
    // On-demand recipients as the ledger keeps them: their ids keyed, never their addresses.
    const stored = distinctRecipients(list.map((recipient) => this.#init.seal.recipient(recipient)))
    // Joins the caller's transaction, or opens one: rows and jobs commit together either way.
    return this.#init.database.transaction(() => this.#write(stored, notification))
  }

  async #write(
    recipients: readonly Recipient[],
    notification: Notification<never>,
  ): Promise<NotifyResult> {
    const init = this.#init
    const fields = notificationFields(notification)
    if (fields.digest !== undefined) {
      return this.#digest(recipients, notification, fields.digest, fields.key)
    }
    const category = init.categories[fields.category] ?? {}
    const now = init.clock.nowMs()
    const notificationId = randomUUID()
    const planned: Planned[] = []
    const digested = notification instanceof DigestNotification
    for (const recipient of recipients) {
      for (const channelName of channelsFor(notification, recipient)) {
        const row: DeliveryRow = {
          // Time-ordered: a new row lands at the end of the primary key, not on a random page of
          // it (on PostgreSQL each such page is written whole to the WAL after a checkpoint).
          id: uuidV7(now),
          notification_id: notificationId,
          type: fields.type,
          category: fields.category,
          recipient_id: recipient.id,
          channel: channelName,
          address: null,
          message: '',
          idempotency_key: fields.key ?? null,
          status: 'queued',
          attempts: 0,
          last_error: null,
          provider_message_id: null,
          possible_duplicates: 0,
          replays: 0,
          sending_until: null,
          sending_token: null,
          run_at: now,
          created_at: now,
          updated_at: now,
          sent_at: null,
          quiet_hours: null,
          sent_to: null,
        }
        const prepared = await prepareMessage(
          notification,
          recipient,
          channelName,
          init.channels.get(channelName),
          { locale: init.defaultLocale, timeZone: init.defaultTimeZone },
        )
        if (prepared.address !== undefined) {
          row.address = init.seal.seal(prepared.address, deliveryAddressPlace(row.id))
        }
        if (!prepared.ok) {
          planned.push(settled(row, prepared.status, prepared.reason, digested))
          continue
        }
        row.message = prepared.json
        // The window goes with the row: every attempt (a retry, a replay) waits for its end when
        // it falls in it. The first is placed after it here, so its job is not run for nothing.
        row.quiet_hours =
          category.critical === true ? null : (this.#quietHours(recipient, channelName) ?? null)
        const until =
          row.quiet_hours === null ? undefined : storedQuietHoursEnd(row.quiet_hours, now).until
        if (until !== undefined) row.run_at = until
        planned.push({
          row,
          outcome: {
            recipientId: recipient.id,
            channel: channelName,
            status: 'queued',
            runAt: until === undefined ? undefined : new Date(until),
          },
        })
      }
    }

    // One order for every call: two notify() of one key with recipients in opposite orders would
    // otherwise take the idempotency index's locks in opposite orders and deadlock.
    const ordered =
      planned.length < 2
        ? planned
        : [...planned].sort(
            (a, b) =>
              compare(a.row.recipient_id, b.row.recipient_id) ||
              compare(a.row.channel, b.row.channel),
          )
    const written = new Set<string>()
    const duplicates = new Map<string, string>()
    // A statement a chunk, in the one transaction: a statement's values are bounded (SQLite takes
    // 32,766, PostgreSQL 65,535) and a row and its job take about 22, so a notify() of thousands
    // of recipients failed whole; so is its size on MySQL/MariaDB (see CHARS_A_STATEMENT).
    for (let start = 0, end = 0; start < ordered.length; start = end) {
      end = chunkEnd(ordered, start)
      const chunk = start === 0 && end === ordered.length ? ordered : ordered.slice(start, end)
      const rows = chunk.map((p) => p.row)
      if (fields.key === undefined) {
        // Fresh ids and no key: every row is written, so the rows and their jobs go together, in
        // one statement where the engine can.
        const toSend = chunk.filter((p) => p.row.status === 'queued')
        if (toSend.length > 0) {
          await init.jobs.enqueueMany(init.deliverJob, deliveryJobs(toSend, now), {
            alongside: init.ledger.insertion(rows),
          })
        } else await init.ledger.insert(rows)
        for (const row of rows) written.add(row.id)
        continue
      }
      const inserted = await init.ledger.insert(rows)
      for (const id of inserted) written.add(id)
      if (inserted.size < rows.length) {
        const earlier = await init.ledger.keyed(
          fields.key,
          rows.map((row) => row.recipient_id),
        )
        for (const [place, id] of earlier) duplicates.set(place, id)
      }
      const toSend = chunk.filter((p) => p.row.status === 'queued' && inserted.has(p.row.id))
      if (toSend.length > 0) await init.jobs.enqueueMany(init.deliverJob, deliveryJobs(toSend, now))
    }
    for (const p of planned) {
      if (p.row.status === 'dead' && written.has(p.row.id)) {
        // At the commit of the ledger's database: another's, open inside it, commits first
        // or rolls back alone.
        await publishAfterCommit(
          init.bus,
          'notification.failed',
          {
            deliveryId: p.row.id,
            notificationId,
            type: fields.type,
            category: fields.category,
            recipientId: p.row.recipient_id,
            channel: p.row.channel as ChannelName,
            reason: p.row.last_error ?? '',
            result: 'permanent',
            attempts: 0,
            final: true,
          },
          { database: init.database },
        )
      }
    }
    return {
      deliveries: planned.map((p) =>
        written.has(p.row.id)
          ? { id: p.row.id, ...p.outcome }
          : {
              id: duplicates.get(`${p.row.recipient_id}|${p.row.channel}`) ?? p.row.id,
              recipientId: p.row.recipient_id,
              channel: p.row.channel as ChannelName,
              status: 'duplicate' as const,
              reason: `already notified with key '${fields.key}'`,
            },
      ),
    }
  }

  /** The recipient's quiet hours on this channel, as the row keeps them, if any. */
  #quietHours(recipient: Recipient, channel: ChannelName): string | undefined {
    const quiet = this.#init.quietHours
    if (!quiet.channels.has(channel)) return undefined
    // The recipient's own window (null: none) wins, whether or not the module sets one.
    const window = recipient.quietHours === undefined ? quiet.window : recipient.quietHours
    if (window === null || window === undefined) return undefined
    return storedQuietHours(window, recipient.timeZone ?? this.#init.defaultTimeZone)
  }

  async #digest(
    recipients: readonly Recipient[],
    notification: Notification<never>,
    entry: DigestEntry,
    key: string | undefined,
  ): Promise<NotifyResult> {
    const init = this.#init
    const digest = init.digests.get(entry.key)
    if (digest === undefined) {
      throw new NotifyConfigError(
        `No digest '${entry.key}' is registered: add it to notifyModule({ digests }).`,
      )
    }
    checkDigested(notification, digest, recipients)
    const now = init.clock.nowMs()
    const deliveries: DeliveryOutcome[] = []
    for (const recipient of recipients) {
      const zone = recipient.timeZone ?? init.defaultTimeZone
      const closesAt =
        'minutes' in digest.window
          ? now + digest.window.minutes * 60_000
          : nextTimeOfDay(new Date(now), zone, digest.window.at).getTime()
      const placement = await addDigestItem(init.database.kysely as Kysely<unknown>, {
        digestKey: digest.key,
        recipient,
        item: entry.item,
        key,
        nowMs: now,
        closesAt,
        seal: init.seal,
      })
      if (placement.duplicate === true) {
        const { opened } = placement
        if (opened !== undefined) {
          await init.jobs.enqueue(
            init.closeDigestJob,
            { batchId: opened.batchId },
            { runAt: new Date(opened.closesAt), key: opened.batchId },
          )
        }
        for (const channel of digest.channels) {
          deliveries.push({
            id: placement.batchId,
            recipientId: recipient.id,
            channel,
            status: 'duplicate',
          })
        }
        continue
      }
      // Also when it joins a batch past its close: if that batch's close job died, one is
      // queued again (its key drops the enqueue while the first is live), so no batch stays open.
      if (placement.opened || placement.closesAt <= now) {
        await init.jobs.enqueue(
          init.closeDigestJob,
          { batchId: placement.batchId },
          { runAt: new Date(placement.closesAt), key: placement.batchId },
        )
      }
      for (const channel of digest.channels) {
        deliveries.push({
          id: placement.batchId,
          recipientId: recipient.id,
          channel,
          status: 'digested',
          runAt: new Date(placement.closesAt),
        })
      }
    }
    return { deliveries }
  }
}

/**
 * A notification with a digest goes out in its digest only, under the digest's category: a
 * category or channels of its own would be ignored (an opt-out of its category not honoured,
 * its channels never sent), so either is refused before anything is written.
 */
export function checkDigested(
  notification: Notification<never>,
  digest: Digest,
  recipients: readonly Recipient[],
): void {
  const own = (notification as { readonly category?: unknown }).category
  const category = digest.category ?? 'default'
  if (own !== undefined && own !== category) {
    throw new NotifyConfigError(
      `${notification.constructor.name} has category '${String(own)}' but goes out in digest '${digest.key}', sent under category '${category}': give the digest that category (defineDigest({ category })) or drop the notification's.`,
    )
  }
  for (const recipient of recipients) {
    const channels = channelsFor(notification, recipient)
    if (channels.length > 0) {
      throw new NotifyConfigError(
        `${notification.constructor.name} goes out in digest '${digest.key}' only, but its via() returned ${channels.join(', ')}: return [] and send those channels in a notification of their own.`,
      )
    }
  }
}

// Module functions, not closures of #write: the build names each closure it makes at run time
// (a property definition apiece), a cost on every notify().

/** The delivery jobs of `sending`, each due when its delivery is. */
function deliveryJobs(sending: readonly Planned[], now: number) {
  return sending.map((p) => ({
    payload: { id: p.row.id },
    options: Number(p.row.run_at) > now ? { runAt: new Date(Number(p.row.run_at)) } : undefined,
  }))
}

/** A delivery that goes nowhere, recorded with why. */
function settled(
  row: DeliveryRow,
  status: 'suppressed' | 'dead',
  why: string,
  digested: boolean,
): Planned {
  // Dead with no message: a digest's is rendered again from its batch by a replay; any other
  // cannot be, and says so (cut to leave room for that in the stored reason).
  const reason = storedReason(
    status === 'dead' && !digested ? `${why.slice(0, 1_800)}; ${NOT_STORED}` : why,
  )
  row.status = status
  row.last_error = reason
  return {
    row,
    outcome: { recipientId: row.recipient_id, channel: row.channel as ChannelName, status, reason },
  }
}

/** Deliveries written (with their jobs) by one statement at most. */
const ROWS_A_STATEMENT = 1_000
/**
 * Characters of messages and addresses one statement takes, unless one delivery alone has more:
 * MySQL/MariaDB refuse a statement over `max_allowed_packet` (16 MiB by default) by closing the
 * connection, so a 100 KB mail to 200 recipients failed the whole notify() there. At most 3 bytes
 * a character, each escaped at most once in the statement (mysql2 interpolates): 12 MiB.
 */
const CHARS_A_STATEMENT = 2 * 1024 * 1024

/** Where the statement of the deliveries from `start` ends (see the bounds above). */
function chunkEnd(ordered: readonly Planned[], start: number): number {
  const last = Math.min(ordered.length, start + ROWS_A_STATEMENT)
  let chars = 0
  for (let end = start; end < last; end++) {
    const { row } = ordered[end] as Planned
    chars += row.message.length + (row.address?.length ?? 0)
    if (chars > CHARS_A_STATEMENT && end > start) return end
  }
  return last
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
