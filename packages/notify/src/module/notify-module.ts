import {
  CLOCK,
  DATABASE,
  type Database,
  databaseToken,
  defineJob,
  defineModule,
  EVENT_BUS,
  isTimeZone,
  JOBS,
  schedule,
  LOGGER,
  type Module,
  globalToken,
  thrownText,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { ALERT_CATEGORY } from '../alerts/admin-alert.js'
import type { AnyChannel, ChannelName } from '../channels/channel.js'
import { ChatChannel } from '../channels/chat/chat-channel.js'
import { INBOX } from '../channels/inbox/inbox-channel.js'
import {
  createInboxTable,
  INBOX_TABLE,
  Inbox,
  addInboxVersions,
  indexInboxAge,
  indexInboxVersions,
} from '../channels/inbox/inbox-store.js'
import { roomForLongText } from './long-text-migration.js'
import { WebhookChannel } from '../channels/webhook/webhook-channel.js'
import type { Digest } from '../digest/define-digest.js'
import { DigestNotification, rerenderDigestDelivery } from '../digest/digest-notification.js'
import { addDigestItemKeys, closeDigestBatch, createDigestTables } from '../digest/digest-store.js'
import { NotifyConfigError } from '../errors.js'
import { channelMap } from './channel-map.js'
import { delayOption } from './delay-option.js'
import { Deliveries } from '../ledger/deliveries.js'
import { DeliveryDispatcher } from '../ledger/delivery-dispatcher.js'
import { DeliveryLedger, deliveryClaimRead } from '../ledger/delivery-ledger.js'
import {
  addDeliveryReplays,
  addDeliveryQuietHours,
  addDeliverySentTo,
  addSendingLease,
  settleSendingTokens,
  createDeliveryTable,
  roomForDeliveryResults,
  slimDeliveryIndexes,
} from '../ledger/delivery-table.js'
import { LedgerNotifier, type LedgerNotifierInit } from '../ledger/ledger-notifier.js'
import { sealStoredAddresses } from '../ledger/seal-stored-addresses.js'
import { AddressSeal } from '../ledger/sealed-address.js'
import {
  addThrottlePosition,
  createThrottleTable,
  indexThrottleWindows,
  pruneThrottle,
  THROTTLE_TABLE,
} from '../ledger/throttle-counter.js'
import type { CategoryOptions } from '../preferences/preference-policy.js'
import { createPreferenceTable, Preferences } from '../preferences/preference-store.js'
import { minutesOfDay } from '../preferences/quiet-hours.js'
import { reclaimSpace } from '../sql/index.js'
import { notifyCommands } from './notify-commands.js'
import type { NotifyModuleOptions } from './notify-options.js'
import { ADDRESS_SEALING, DELIVERIES, NOTIFIER, PREFERENCES } from './notify-tokens.js'
import { useRunningNotifier } from './running-notifiers.js'

// Exported for the ledger's own tests (a worker that marks a delivery and vanishes), not by index.ts.
export const LEDGER = globalToken<DeliveryLedger>('mortar.notify.ledger')
const DISPATCHER = globalToken<DeliveryDispatcher>('mortar.notify.dispatcher')
const DIGEST_CLOSER = globalToken<{ close(batchId: string): Promise<void> }>(
  'mortar.notify.digestCloser',
)

/** The names of the jobs the notify module declares. */
export const NOTIFY_JOBS = {
  deliver: 'mortar.notify.deliver',
  closeDigest: 'mortar.notify.close-digest',
  inboxRetention: 'mortar.notify.inbox-retention',
  throttlePrune: 'mortar.notify.throttle-prune',
} as const

/**
 * The notify module: the delivery ledger and its jobs, the channels, preferences, the inbox,
 * digests and the tables they live in (run `app.migrate()`). Needs the app's database and jobs
 * (core binds `JOBS` for a module that declares jobs). Binds {@link NOTIFIER}, `DELIVERIES`,
 * `PREFERENCES` and `INBOX`, and makes `notify()` use this app.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { devMailbox, inboxChannel, mailChannel, notifyModule } from '@mortar/notify'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/app.db',
 *   modules: [
 *     notifyModule({
 *       channels: [mailChannel({ from: 'Shop <no-reply@shop.example>', transport: devMailbox() }), inboxChannel()],
 *       categories: { security: { critical: true }, receipts: { required: true }, marketing: { throttle: { limit: 2, windowMs: 86_400_000 } } },
 *       quietHours: { start: '22:00', end: '07:00' },
 *     }),
 *   ],
 * })
 * await app.migrate()
 * await app.start()
 * ```
 */
export function notifyModule(options: NotifyModuleOptions): Module {
  const channels = channelMap(options.channels)
  // A plugin's bound becomes a timer too (the built-in channels check theirs when made).
  for (const channel of channels.values()) {
    delayOption(
      `notifyModule: the ${channel.name} channel's sendTimeoutMs`,
      channel.sendTimeoutMs,
      1,
    )
  }
  // Admin alerts are critical unless the app says otherwise: no opt-out, no quiet hours.
  // No prototype: a category named 'constructor' or 'toString' is no category the app set.
  const categories: Readonly<Record<string, CategoryOptions>> = Object.assign(
    Object.create(null) as Record<string, CategoryOptions>,
    { [ALERT_CATEGORY]: { critical: true } },
    options.categories,
  )
  const throttleWindows = new Map(
    Object.entries(categories).flatMap(([name, category]) =>
      category.throttle === undefined ? [] : [[name, category.throttle.windowMs] as const],
    ),
  )
  const digests = digestMap(options.digests ?? [])
  const defaultLocale = options.defaultLocale ?? 'en'
  const defaultTimeZone = options.defaultTimeZone ?? 'UTC'
  if (!isTimeZone(defaultTimeZone)) {
    throw new NotifyConfigError(
      `notifyModule: defaultTimeZone '${defaultTimeZone}' is not a time zone.`,
    )
  }
  const quietHours = checkQuietHours(options.quietHours, channels)
  // Fails at start-up, not at the first alert: these channels send to nothing but URLs.
  const urlChannel = options.channels.find(
    (channel) => channel instanceof ChatChannel || channel instanceof WebhookChannel,
  )
  if (urlChannel !== undefined && options.vault === undefined) {
    throw new NotifyConfigError(
      `notifyModule: the ${urlChannel.name} channel sends to URLs, often their own credential, ` +
        'which the ledger keeps encrypted at rest: pass notifyModule({ vault }) (a Vault from @mortar/core).',
    )
  }
  const seal = new AddressSeal(options.vault)
  for (const [name, category] of Object.entries(categories)) {
    const throttle = category.throttle
    if (
      throttle !== undefined &&
      // Whole milliseconds: a window's start is stored as a bigint, which PostgreSQL refuses
      // a fraction for (every throttled delivery's count failed).
      !(
        Number.isInteger(throttle.limit) &&
        throttle.limit >= 0 &&
        Number.isSafeInteger(throttle.windowMs) &&
        throttle.windowMs > 0
      )
    ) {
      throw new NotifyConfigError(
        `notifyModule: category '${name}' needs throttle.limit, a whole number ≥ 0, and windowMs, a whole number of milliseconds > 0.`,
      )
    }
  }

  const deliverJob = defineJob({
    name: NOTIFY_JOBS.deliver,
    // `after`: the attempts a replayed delivery had before this job; `replay`: which replay of
    // the delivery the job sends (none: the first).
    schema: z.object({
      id: z.string().min(1).max(36),
      after: z.number().int().min(0).optional(),
      base: z.number().int().min(0).optional(),
      replay: z.number().int().min(0).optional(),
    }),
    attempts: options.delivery?.attempts ?? 8,
    backoff: options.delivery?.backoff ?? { baseMs: 5_000, maxMs: 3_600_000 },
    timeout: options.delivery?.timeoutMs ?? 60_000,
    // One read of the rows for all the delivery jobs of a claim, before their handlers: carried
    // by the claim itself where the engine can.
    claimRead: { key: 'id', select: deliveryClaimRead },
    // The dispatcher (a singleton) goes with each value: resolved in a handler, it would cost
    // each delivery a dependency scope of its own.
    prepare: (payloads, batch, carried) => batch.resolve(DISPATCHER).load(payloads, carried),
    handler: (payload, job, prepared) => prepared.dispatcher.deliver(payload, job, prepared),
    // Every death of the job ends its delivery, including those no attempt reported (E_JOB_LOST).
    onDead: (payload, job) => job.resolve(DISPATCHER).dead(payload, job),
  })
  const closeDigestJob = defineJob({
    name: NOTIFY_JOBS.closeDigest,
    schema: z.object({ batchId: z.string().min(1).max(36) }),
    handler: (payload, job) => job.resolve(DIGEST_CLOSER).close(payload.batchId),
  })

  const retentionDays = options.inboxRetentionDays ?? 90
  // A century at most: the cut, now − days × 86,400,000 ms, stays an exact integer and a Date.
  if (!(Number.isInteger(retentionDays) && retentionDays >= 1 && retentionDays <= 36_525)) {
    throw new NotifyConfigError(
      `notifyModule: inboxRetentionDays must be a whole number of days from 1 to 36525, not ${String(retentionDays)}.`,
    )
  }
  // Read and archived inbox items past their retention go daily (unread ones stay).
  const inboxRetention = schedule(
    NOTIFY_JOBS.inboxRetention,
    { cron: '40 3 * * *' },
    async (tick, job) => {
      const deleted = await job
        .resolve(INBOX)
        .prune(new Date(tick.at.getTime() - retentionDays * 86_400_000))
      reclaimSpace(job.resolve(DATABASE), INBOX_TABLE, deleted)
      job.logger.info({ deleted, retentionDays }, 'Inbox retention applied')
    },
  )
  // Throttle windows that ended count nothing any more: they go hourly, the app doing nothing,
  // so the table holds about an hour of windows per key, not every window since it began.
  const throttlePrune = schedule(
    NOTIFY_JOBS.throttlePrune,
    { cron: '25 * * * *' },
    async (tick, job) => {
      const database = job.resolve(DATABASE)
      const deleted = await pruneThrottle(
        database.kysely as Kysely<unknown>,
        tick.at.getTime(),
        throttleWindows,
      )
      reclaimSpace(database, THROTTLE_TABLE, deleted)
      job.logger.info({ deleted }, 'Ended throttle windows pruned')
    },
  )

  let release: (() => void) | undefined
  return defineModule({
    name: 'mortar.notify',
    jobs: [deliverJob, closeDigestJob],
    schedules: [inboxRetention, throttlePrune],
    commands: notifyCommands,
    migrations: {
      '0001_create_delivery': createDeliveryTable,
      '0002_create_inbox': createInboxTable,
      '0003_create_preference': createPreferenceTable,
      '0004_create_throttle': createThrottleTable,
      '0005_create_digest': createDigestTables,
      '0006_slim_delivery_indexes': slimDeliveryIndexes,
      '0007_delivery_replays': addDeliveryReplays,
      '0008_room_for_delivery_results': roomForDeliveryResults,
      '0009_delivery_sending_lease': addSendingLease,
      '0010_delivery_settled_tokens': settleSendingTokens,
      '0011_digest_item_keys': addDigestItemKeys,
      '0012_delivery_quiet_hours': addDeliveryQuietHours,
      '0013_room_for_long_text': roomForLongText,
      '0014_delivery_throttle_position': addThrottlePosition,
      '0015_inbox_age': indexInboxAge,
      '0016_throttle_windows': indexThrottleWindows,
      '0017_inbox_versions': addInboxVersions,
      '0018_delivery_sent_to': addDeliverySentTo,
      '0019_inbox_version_index': indexInboxVersions,
    },
    register(binder) {
      binder.bind(LEDGER, {
        inject: [DATABASE, CLOCK, JOBS, LOGGER],
        useFactory: (database, clock, jobs, logger) =>
          new DeliveryLedger(database as Database, clock, {
            jobsInSameDatabase: jobs.engine === 'database',
            logger,
          }),
      })
      binder.bind(INBOX, {
        inject: [DATABASE, CLOCK],
        useFactory: (database, clock) =>
          new Inbox(database as Database, clock, { recipientExists: options.recipientExists }),
      })
      binder.bind(PREFERENCES, {
        inject: [databaseToken(), CLOCK],
        useFactory: (db, clock) =>
          new Preferences(db as Kysely<unknown>, clock, categories, [...channels.keys()]),
      })
      binder.bind(NOTIFIER, {
        inject: [DATABASE, LEDGER, JOBS, CLOCK, EVENT_BUS],
        useFactory: (database, ledger, jobs, clock, bus) =>
          new LedgerNotifier({
            database: database as Database,
            ledger,
            jobs,
            deliverJob,
            closeDigestJob,
            clock,
            bus,
            channels,
            categories,
            digests,
            defaultLocale,
            defaultTimeZone,
            quietHours,
            seal,
          }),
      })
      binder.bind(DISPATCHER, {
        inject: [LEDGER, EVENT_BUS, LOGGER, CLOCK, DATABASE, JOBS],
        useFactory: (ledger, bus, logger, clock, database, jobs) =>
          new DeliveryDispatcher({
            ledger,
            channels,
            bus,
            logger,
            recipientExists: options.recipientExists,
            categories,
            clock,
            background: (database as Database).background as Kysely<unknown>,
            seal,
            continueAt: async (payload, runAtMs) => {
              await jobs.enqueue(deliverJob, payload, { runAt: new Date(runAtMs) })
            },
          }),
      })
      binder.bind(DELIVERIES, {
        inject: [LEDGER, DATABASE, JOBS],
        useFactory: (ledger, database, jobs) =>
          new Deliveries(
            ledger,
            database as Database,
            jobs,
            deliverJob,
            seal,
            throttleWindows,
            rerenderDigestDelivery({
              digests,
              channels,
              seal,
              defaults: { locale: defaultLocale, timeZone: defaultTimeZone },
            }),
          ),
      })
      binder.bind(ADDRESS_SEALING, {
        inject: [DATABASE],
        useFactory: (database) => ({
          sealStored: () =>
            sealStoredAddresses((database as Database).root as Kysely<unknown>, seal),
        }),
      })
      binder.bind(DIGEST_CLOSER, {
        inject: [DATABASE, NOTIFIER, LOGGER],
        useFactory: (database, notifier, logger) => ({
          close: (batchId: string) =>
            (database as Database).transaction(async () => {
              const batch = await closeDigestBatch(
                (database as Database).kysely as Kysely<unknown>,
                batchId,
                seal,
                (key) => digests.has(key),
              )
              if (batch === undefined) return
              const digest = digests.get(batch.digestKey)
              // Closed, not retried until its job dies: the batch stays findable, its items kept.
              if (batch.orphaned === true || digest === undefined) {
                logger.warn(
                  { batchId, digest: batch.digestKey },
                  `Digest '${batch.digestKey}' is not registered: its batch was closed unsent as 'orphaned'. Register it in notifyModule({ digests }) and the items go out with the recipient's next batch.`,
                )
                return
              }
              let recipient = batch.recipient
              // Stored by a process whose runtime knew the zone: refused by notify() here, the
              // close threw at every attempt until its job died, the digest never sent.
              if (recipient.timeZone !== undefined && !isTimeZone(recipient.timeZone)) {
                logger.warn(
                  { batchId, digest: batch.digestKey, timeZone: recipient.timeZone },
                  `The recipient's time zone is unknown to this runtime: digest batch ${batchId} goes out in the module's defaultTimeZone (${defaultTimeZone}).`,
                )
                recipient = { ...recipient, timeZone: undefined }
              }
              await notifier.notify(
                recipient as never,
                new DigestNotification(digest, batch.id, batch.items) as never,
              )
            }),
        }),
      })
    },
    async onStart(app) {
      for (const channel of channels.values()) await channel.open?.(app)
      release = useRunningNotifier(app.resolve(NOTIFIER))
    },
    async onStop() {
      release?.()
      release = undefined
      for (const channel of channels.values()) await channel.close?.()
    },
  })
}

function digestMap(list: readonly Digest[]): ReadonlyMap<string, Digest> {
  const digests = new Map<string, Digest>()
  for (const digest of list) {
    if (digests.has(digest.key))
      throw new NotifyConfigError(`notifyModule: two digests named '${digest.key}'.`)
    digests.set(digest.key, digest)
  }
  return digests
}

function checkQuietHours(
  quietHours: NotifyModuleOptions['quietHours'],
  channels: ReadonlyMap<ChannelName, AnyChannel>,
): LedgerNotifierInit['quietHours'] {
  // The channels hold a recipient's own window too when the module sets none: it is theirs.
  const on = quietHours?.channels ?? [...channels.keys()].filter((name) => name !== 'inbox')
  if (quietHours === undefined) return { window: undefined, channels: new Set(on) }
  try {
    minutesOfDay(quietHours.start, 'start')
    minutesOfDay(quietHours.end, 'end')
  } catch (error) {
    throw new NotifyConfigError(`notifyModule: quietHours ${thrownText(error)}`)
  }
  return { window: { start: quietHours.start, end: quietHours.end }, channels: new Set(on) }
}
