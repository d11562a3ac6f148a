import {
  createLogger,
  Database,
  databaseToken,
  defineJob,
  EVENT_BUS,
  JOBS,
  type QueueAdapter,
  transaction,
} from '@mortar/core'
import {
  createTestApp,
  deleteRedisKeys,
  type FakeClock,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  privateRedisPrefix,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { INBOX } from '../channels/inbox/inbox-channel.js'
import { inboxChannel } from '../channels/inbox/index.js'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { unsentDigestBatches } from '../digest/digest-store.js'
import { NOT_STORED } from '../digest/digest-notification.js'
import { NotifyRecipientError } from '../errors.js'
import type { NotificationFailedEvent, NotificationSentEvent } from '../ledger/notify-events.js'
import { Notification } from '../notification/notification.js'
import { type Recipient, route } from '../notification/recipient.js'
import { commentsDigest, NewComment } from '../test-support/comment-digest.js'
import { Promo } from '../test-support/promo.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'
import { NOTIFY_JOBS, notifyModule } from './notify-module.js'
import { DELIVERIES, NOTIFIER, PREFERENCES } from './notify-tokens.js'
import { notify } from './running-notifiers.js'

class OrderShipped extends Notification {
  readonly type = 'order.shipped'
  readonly category = 'orders'
  constructor(
    readonly orderId: string,
    readonly key?: string,
  ) {
    super()
  }
  via(recipient: Recipient) {
    return recipient.phone ? (['mail', 'sms', 'inbox'] as const) : (['mail', 'inbox'] as const)
  }
  toMail() {
    return { subject: `Order ${this.orderId} shipped`, text: 'On its way.' }
  }
  toSms() {
    return { text: `Order ${this.orderId} shipped` }
  }
  toInbox() {
    return { title: `Order ${this.orderId} shipped` }
  }
}

class BrokenTemplate extends Notification {
  readonly type = 'broken'
  via() {
    return ['mail', 'sms'] as const
  }
  toMail(): { subject: string; text: string } {
    throw new Error('template exploded')
  }
  toSms() {
    return { text: 'still sent' }
  }
}

class UnstorableData extends Notification {
  readonly type = 'unstorable'
  via() {
    return ['inbox', 'sms'] as const
  }
  toInbox() {
    return { title: 'Counted', data: { count: 10n } }
  }
  toSms() {
    return { text: 'still sent' }
  }
}

class RoomPing extends Notification {
  readonly type = 'room.ping'
  via() {
    return ['chat'] as const
  }
  toChat() {
    return { text: 'ping' }
  }
}

class Reminder extends Notification {
  readonly type = 'reminder'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Reminder' }
  }
}

class LoginAlert extends Notification {
  readonly type = 'security.login'
  readonly category = 'security'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'New login' }
  }
}

// The notify module's delivery job under its own name, as an earlier job of a delivery is.
const earlierDeliveryJob = defineJob({
  name: NOTIFY_JOBS.deliver,
  schema: z.object({ id: z.string() }),
  handler: () => undefined,
})
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const ada: Recipient = {
  id: 'ada',
  email: 'ada@example.com',
  phone: '+15550100',
  timeZone: 'Europe/Paris',
}
const bob: Recipient = { id: 'bob', email: 'bob@example.com' }
// No quiet hours: with BullMQ the test runs at the machine's hour of the day.
const ivy: Recipient = { id: 'ivy', email: 'ivy@example.com', phone: '+15550105', quietHours: null }

/** The queue engine the ledger's jobs run on, and how a test moves time on it. */
interface LedgerQueue {
  readonly title: string
  readonly engine: 'database' | 'bullmq'
  /** Why it is skipped: a MORTAR_TEST_* variable is unset. */
  readonly skip: string | undefined
  /** The comment digest's window. */
  readonly digestMinutes: number
  /** Sets the clock at the start of each test. */
  start(clock: FakeClock): void
  /** Lets `ms` pass, for the app and for the queue's delayed jobs. */
  pass(clock: FakeClock, ms: number): Promise<void>
}

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const queues: readonly LedgerQueue[] = [
  {
    title: 'the SQL queue',
    engine: 'database',
    skip: undefined,
    digestMinutes: 30,
    // Noon in Paris: outside quiet hours.
    start: (clock) => clock.set('2026-06-01T10:00:00Z'),
    async pass(clock, ms) {
      clock.advance(ms)
    },
  },
  {
    title: 'BullMQ',
    engine: 'bullmq',
    skip: redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset',
    // BullMQ delays jobs on the machine clock: the app's clock starts at the machine's time
    // and moves with it, and the window is short enough to wait out.
    digestMinutes: 0.05,
    start: (clock) => clock.set(Date.now()),
    async pass(clock, ms) {
      clock.advance(ms)
      await new Promise((resolve) => setTimeout(resolve, ms))
    },
  },
]

for (const engine of testEngines()) {
  for (const queue of queues) {
    const skip = engine.skip ?? queue.skip
    const title = `the notify ledger on ${engine.title} with ${queue.title}`
    // Skipped only when a server variable is unset (printed); CI sets every variable.
    if (skip) console.info(`[skipped] ${title}: ${skip}`)
    describe.skipIf(skip !== undefined)(title, () => {
      let database: PrivateDatabaseUrl
      const prefix = privateRedisPrefix()
      let app: TestApp
      let sms: RecordingChannel<'sms'>
      // A channel with idempotency keys: its sends are not marked, a second one is no second message.
      let room: RecordingChannel<'chat'>
      const mailbox = devMailbox()
      const deleted = new Set<string>()
      // Recipients whose next recipientExists throws (the users' database out of reach).
      const unreachable = new Set<string>()
      const asked: string[] = []
      const sent: NotificationSentEvent[] = []
      const failed: NotificationFailedEvent[] = []

      beforeAll(async () => {
        database = await privateDatabaseUrl(engine)
        sms = recordingChannel('sms', (recipient) => recipient.phone)
        room = Object.assign(
          recordingChannel('chat', () => undefined),
          { idempotent: true },
        )
        app = createTestApp({
          database: database.url,
          ...(queue.engine === 'bullmq' ? { redis: { url: redisUrl as string, prefix } } : {}),
          logger: createLogger({ level: 'silent' }),
          jobs: { engine: queue.engine, workers: false },
          modules: [
            notifyModule({
              channels: [
                mailChannel({ from: 'Shop <shop@example.com>', transport: mailbox }),
                sms,
                room,
                inboxChannel(),
              ],
              categories: {
                security: { critical: true },
                orders: { required: true },
                marketing: { throttle: { limit: 2, windowMs: 3_600_000 } },
              },
              quietHours: { start: '22:00', end: '07:00', channels: ['sms'] },
              digests: [commentsDigest(queue.digestMinutes)],
              recipientExists: (id) => {
                asked.push(id)
                if (unreachable.delete(id)) throw new Error('the users database is out of reach')
                return !deleted.has(id)
              },
              delivery: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } },
            }),
          ],
        })
        await app.migrate()
        await app.start()
        app.resolve(EVENT_BUS).subscribe('notification.sent', (event) => void sent.push(event))
        app.resolve(EVENT_BUS).subscribe('notification.failed', (event) => void failed.push(event))
      })
      afterAll(async () => {
        await app.stop()
        await database.drop()
        if (queue.engine === 'bullmq') await deleteRedisKeys(redisUrl as string, prefix)
      })
      beforeEach(() => {
        queue.start(app.clock)
        mailbox.clear()
        sms.sent.length = 0
        sms.script.length = 0
        sent.length = 0
        failed.length = 0
      })

      const drain = () => app.resolve(JOBS).drain()

      it('sends nothing for a rolled-back transaction, and everything once committed', async () => {
        await expect(
          transaction(async () => {
            await notify(ivy, new OrderShipped('o-rollback'))
            throw new Error('payment declined')
          }),
        ).rejects.toThrow('payment declined')
        await drain()
        expect(mailbox.messages()).toHaveLength(0)
        expect(await app.resolve(DELIVERIES).list('ivy')).toHaveLength(0)

        const result = await transaction(() => notify(ivy, new OrderShipped('o-commit')))
        expect(result.deliveries.map((d) => [d.channel, d.status])).toEqual([
          ['mail', 'queued'],
          ['sms', 'queued'],
          ['inbox', 'queued'],
        ])
        await drain()
        expect(mailbox.messages().map((m) => m.subject)).toEqual(['Order o-commit shipped'])
        expect(sms.sent.map((s) => s.to)).toEqual(['+15550105'])
        expect((await app.resolve(INBOX).list('ivy')).items.map((i) => i.title)).toEqual([
          'Order o-commit shipped',
        ])
        const deliveries = await app.resolve(DELIVERIES).list('ivy')
        expect(deliveries.map((d) => [d.channel, d.status, d.attempts])).toEqual(
          expect.arrayContaining([
            ['mail', 'sent', 1],
            ['sms', 'sent', 1],
            ['inbox', 'sent', 1],
          ]),
        )
        expect(mailbox.messages()[0]?.messageId).toBe(
          `<${deliveries.find((d) => d.channel === 'mail')?.id}@example.com>`,
        )
        expect(sent.map((e) => e.channel).sort()).toEqual(['inbox', 'mail', 'sms'])
      })

      it('sends to the addresses the recipient had when notify() ran, whatever they became before the send', async () => {
        // The delivery keeps its address (routed and checked at notify()): a changed email or
        // phone number reaches the notifications written after the change, not one already
        // committed, its retries and replays included.
        const val = { id: 'val', email: 'val@old.example', phone: '+15550110', quietHours: null }
        await notify(val, new OrderShipped('o-moved'))
        Object.assign(val, { email: 'val@new.example', phone: '+15550111' })
        await drain()
        expect(mailbox.messages().map((m) => m.to)).toEqual(['val@old.example'])
        expect(sms.sent.map((s) => s.to)).toEqual(['+15550110'])
        await notify(val, new OrderShipped('o-after'))
        await drain()
        expect(
          mailbox
            .messages()
            .map((m) => m.to)
            .sort(),
        ).toEqual(['val@new.example', 'val@old.example'])
        expect(sms.sent.map((s) => s.to).sort()).toEqual(['+15550110', '+15550111'])
      })

      it("fails the caller's transaction with the database's own error when it refuses a delivery row: nothing commits", async () => {
        const root = app.resolve(databaseToken())
        const refuse =
          engine.engine === 'sqlite'
            ? sql`create trigger mortar_test_refuse before insert on mortar_delivery when new.recipient_id = 'rex' begin select raise(abort, 'mortar_test_refuse'); end`
            : sql`alter table mortar_delivery add constraint mortar_test_refuse check (recipient_id <> 'rex')`
        await refuse.execute(root)
        try {
          const kept = await app.resolve(JOBS).status()
          await expect(
            transaction(async () => {
              await notify({ id: 'roy', email: 'roy@example.com' }, new OrderShipped('o-beside'))
              await notify({ id: 'rex', email: 'rex@example.com' }, new OrderShipped('o-refused'))
            }),
          ).rejects.toThrow(/mortar_test_refuse/)
          await drain()
          expect(mailbox.messages()).toHaveLength(0)
          expect(await app.resolve(DELIVERIES).list('roy')).toHaveLength(0)
          expect(await app.resolve(DELIVERIES).list('rex')).toHaveLength(0)
          expect((await app.resolve(JOBS).status()).counts).toEqual(kept.counts)
        } finally {
          await (engine.engine === 'sqlite'
            ? sql`drop trigger mortar_test_refuse`
            : sql`alter table mortar_delivery drop constraint mortar_test_refuse`
          ).execute(root)
        }
      })

      it('delivers the same idempotency key once, however many concurrent notify() run', async () => {
        const results = await Promise.all(
          Array.from({ length: 6 }, () =>
            transaction(() => notify(bob, new OrderShipped('o-key', 'shipped:o-key'))),
          ),
        )
        await drain()
        expect(mailbox.messages('bob@example.com')).toHaveLength(1)
        const statuses = results.flatMap((r) => r.deliveries.map((d) => d.status))
        expect(statuses.filter((s) => s === 'queued')).toHaveLength(2) // mail + inbox, once
        expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(10)
        const ids = new Set(
          results.flatMap((r) => r.deliveries.filter((d) => d.channel === 'mail').map((d) => d.id)),
        )
        expect(ids.size).toBe(1)
      })

      it('delivers a keyed notification to recipients given in opposite orders at once, without a deadlock', async () => {
        const everyone = [ada, bob, ivy]
        for (let round = 0; round < 20; round++) {
          const key = `shipped:r${round}`
          const results = await Promise.all(
            [everyone, [...everyone].reverse(), everyone, [...everyone].reverse()].map((list) =>
              transaction(() => notify(list, new OrderShipped(`r${round}`, key))),
            ),
          )
          const queued = results.flatMap((r) => r.deliveries).filter((d) => d.status === 'queued')
          expect(new Set(queued.map((d) => `${d.recipientId}/${d.channel}`)).size).toBe(
            queued.length,
          )
        }
      })

      it('refuses a recipient no column can store with a typed error naming the field, writing nothing', async () => {
        const kim: Recipient = { id: 'kim', email: 'kim@example.com' }
        const refused: [Recipient, string][] = [
          [{ id: 'kim', email: 'kim\u0000@example.com' }, 'email'],
          [{ id: 'k\u0000m', email: 'kim@example.com' }, 'id'],
          [{ id: 'kim', email: `${'k'.repeat(70_000)}@example.com` }, 'email'],
          [{ id: 'kim', phone: '+1555\u00000100' }, 'phone'],
          [route('mail', 'ops\u0000@example.com'), 'routes.mail'],
          [{ id: 'x'.repeat(192) }, 'id'],
          // No zone this runtime knows: quiet hours and digests could not place it.
          [{ id: 'kim', phone: '+15550100', timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
          [{ id: 'kim', email: 'kim@example.com', timeZone: '' }, 'timeZone'],
          // Read for some channels only: a plain TypeError on those, unseen on the others.
          [
            { id: 'kim', email: 'kim@example.com', quietHours: { start: '24:00', end: '07:00' } },
            'quietHours.start',
          ],
          [{ id: 'kim', email: 'kim@example.com', quietHours: 'nights' as never }, 'quietHours'],
          // A lone surrogate has no UTF-8 form: stored as U+FFFD, 'b\uD800' and 'b\uDBFF' would
          // be one recipient, each reading the other's inbox.
          [{ id: 'b\uD800' }, 'id'],
          [{ id: 'kim', email: 'kim\uDC00@example.com' }, 'email'],
          // Taken for an on-demand recipient when sent to: opt-outs and deletion ignored.
          [{ id: 'route:mail:kim@example.com', email: 'kim@example.com' }, 'id'],
        ]
        for (const [bad, field] of refused) {
          await transaction(async () => {
            // The caller's transaction stays usable: the refusal comes before any statement.
            const error = await notify([kim, bad], new OrderShipped('o-bad')).catch((e) => e)
            expect(error).toBeInstanceOf(NotifyRecipientError)
            expect(error).toMatchObject({ code: 'E_NOTIFY_RECIPIENT', details: { field } })
            const digestError = await notify(bad, new NewComment('x')).catch((e) => e)
            expect(digestError).toBeInstanceOf(NotifyRecipientError)
          })
        }
        expect(await app.resolve(DELIVERIES).list('kim')).toHaveLength(0)
        await transaction(async () => {
          await notify([kim, refused[0]![0]], new OrderShipped('o-bad')).catch(() => undefined)
          await notify(kim, new OrderShipped('o-good'))
        })
        expect(await app.resolve(DELIVERIES).list('kim')).toHaveLength(2)
      })

      it('refuses an idempotency key that would not be stored as given (NUL, a lone surrogate)', async () => {
        for (const key of ['shipped:\u0000', 'shipped:\uD800', 'shipped:\uDC00x']) {
          await expect(notify(bob, new OrderShipped('o-k', key))).rejects.toThrow(/lone surrogate/)
        }
      })

      it('keeps at most 2 000 characters of a reason, such as a refused address', async () => {
        const long: Recipient = { id: 'lee', email: `${'l'.repeat(20_000)} not an address` }
        const result = await notify(long, new OrderShipped('o-long'))
        const mail = result.deliveries.find((d) => d.channel === 'mail')
        expect(mail?.status).toBe('dead')
        const stored = (await app.resolve(DELIVERIES).list('lee')).find((d) => d.channel === 'mail')
        expect(stored?.lastError?.length).toBeLessThanOrEqual(2_000)
      })

      it('collects digest items into one batch per recipient, even under concurrent triggers', async () => {
        const frank: Recipient = { id: 'frank', email: 'frank@example.com' }
        const results = await Promise.all(
          ['first', 'second', 'third', 'fourth'].map((text) =>
            transaction(() => notify(frank, new NewComment(text))),
          ),
        )
        const batches = new Set(results.map((r) => r.deliveries[0]?.id))
        expect(batches.size).toBe(1)
        // An on-demand recipient's batch is sent to them as one when it closes.
        await notify(route('mail', 'ops-digest@example.com'), new NewComment('on demand'))
        expect(await unsentDigestBatches(app.resolve(databaseToken()), 'frank')).toMatchObject([
          { digestKey: 'comments', status: 'open', items: 4 },
        ])
        await drain()
        expect(mailbox.messages('frank@example.com')).toHaveLength(0)
        await queue.pass(app.clock, queue.digestMinutes * 60_000 + 1)
        await drain()
        const mails = mailbox.messages('frank@example.com')
        expect(mails).toHaveLength(1)
        expect(mails[0]?.subject).toBe('4 new comments')
        expect(mails[0]?.text?.split('\n').sort()).toEqual(['first', 'fourth', 'second', 'third'])
        expect(mailbox.messages('ops-digest@example.com')).toHaveLength(1)
        // The next item opens a new batch.
        await notify(frank, new NewComment('fifth'))
        expect(await unsentDigestBatches(app.resolve(databaseToken()), 'frank')).toMatchObject([
          { items: 1 },
        ])
      })

      it('reads a delivery as sending while a worker holds its job, and counts a send a crash left unrecorded', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const iris: Recipient = { id: 'iris', phone: '+15550109' }
        const id = (await notify(iris, new LoginAlert())).deliveries[0]?.id ?? ''
        let attempts = 1
        if (queue.engine === 'database') {
          // A worker claims the job, marks it sending and dies mid-send: its lease has already
          // passed. (BullMQ finds a dead worker's job by its own stalled check, on the machine's
          // clock.)
          const { adapter } = app.resolve(JOBS) as unknown as { adapter: QueueAdapter }
          const now = app.clock.nowMs()
          const claimed = await adapter.claim({
            worker: 'killed',
            names: ['mortar.notify.deliver'],
            limit: 10,
            nowMs: now,
            leaseMs: -1,
          })
          expect(claimed).toHaveLength(1)
          await sql`update mortar_delivery set status = 'sending', attempts = 1 where id = ${id}`.execute(
            app.resolve(databaseToken()),
          )
          attempts = 2
        }
        let reached!: () => void
        const atChannel = new Promise<void>((resolve) => (reached = resolve))
        let release!: () => void
        const released = new Promise<void>((resolve) => (release = resolve))
        sms.beforeSend = async () => {
          reached()
          await released
        }
        const draining = drain()
        try {
          await atChannel
          expect(await deliveries.get(id)).toMatchObject({ status: 'sending', attempts })
          expect(await deliveries.list('iris', { status: 'sending' })).toHaveLength(1)
          expect(await deliveries.list('iris', { status: 'queued' })).toHaveLength(0)
          expect((await deliveries.status()).counts).toContainEqual({
            channel: 'sms',
            status: 'sending',
            count: 1,
          })
        } finally {
          release()
          await draining
          sms.beforeSend = undefined
        }
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sent',
          attempts,
          possibleDuplicates: attempts - 1,
        })
        expect(sms.sent.map((s) => s.attempt)).toEqual([attempts])
        expect((await deliveries.status()).counts.map((row) => row.status)).not.toContain('sending')
      })

      it('sends a dead delivery once however many replays of it run at once: one wins, the others are refused', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const kit: Recipient = { id: 'kit', phone: '+15550107', quietHours: null }
        sms.script.push({ status: 'permanent', reason: 'bad number' })
        const id = (await notify(kit, new Promo())).deliveries[0]?.id ?? ''
        await drain()
        expect(await deliveries.get(id)).toMatchObject({ status: 'dead' })

        const results = await Promise.allSettled(
          Array.from({ length: 6 }, () => deliveries.replay(id)),
        )
        expect(results.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual([1])
        for (const result of results.filter((r) => r.status === 'rejected')) {
          expect(result.reason).toMatchObject({ code: 'E_DELIVERY_NOT_REPLAYABLE' })
        }
        await drain()
        expect(sms.sent.map((s) => s.to)).toEqual(['+15550107'])
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent', possibleDuplicates: 0 })

        // The same beside replays of every dead delivery.
        sms.sent.length = 0
        sms.script.push({ status: 'permanent', reason: 'bad number' })
        const again = (await notify(kit, new LoginAlert())).deliveries[0]?.id ?? ''
        await drain()
        await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) => deliveries.replay(i % 2 === 0 ? again : 'all-dead')),
        )
        const queued = await app
          .resolve(JOBS)
          .list({ state: 'pending', name: 'mortar.notify.deliver', limit: 1_000 })
        // By job id: BullMQ's list may show a job twice while it is being relayed (outbox and queue).
        const jobsOfAgain = queued.filter((job) => (job.payload as { id: string }).id === again)
        expect(new Set(jobsOfAgain.map((job) => job.id)).size).toBe(1)
        await drain()
        expect(sms.sent.filter((s) => s.id === again)).toHaveLength(1)
        expect(await deliveries.get(again)).toMatchObject({ status: 'sent', possibleDuplicates: 0 })
      })

      /**
       * Drains with the first send held at the channel (after `meanwhile`, when given) until a
       * second send came or `othersUnderWay` says the other run ended: two runs in flight at once.
       */
      async function drainHoldingFirstSend(
        othersUnderWay: () => Promise<boolean>,
        meanwhile?: () => Promise<unknown>,
      ) {
        let sends = 0
        sms.beforeSend = async () => {
          sends += 1
          if (sends > 1) return
          await meanwhile?.()
          while (sends < 2 && (await othersUnderWay())) await pause(5)
        }
        try {
          await drain()
        } finally {
          sms.beforeSend = undefined
        }
      }

      /**
       * A dead delivery to `phone` whose first job is live again (as `mortar jobs retry` makes a
       * dead one, or an engine a job whose completion was lost), replayed beside it.
       */
      async function replayedBesideEarlierJob(phone: string) {
        const deliveries = app.resolve(DELIVERIES)
        sms.script.push({ status: 'permanent', reason: 'bad number' })
        const recipient: Recipient = { id: `r${phone}`, phone, quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        await drain()
        expect(await deliveries.get(id)).toMatchObject({ status: 'dead' })
        const stale = (await app.resolve(JOBS).enqueue(earlierDeliveryJob, { id })) ?? ''
        expect(await deliveries.replay(id)).toBe(1)
        return { deliveries, jobs: app.resolve(JOBS), id, stale }
      }

      it("sends a replayed delivery once while an earlier job of it runs again (a dead job retried): only the replay's job sends", async () => {
        const { deliveries, jobs, id, stale } = await replayedBesideEarlierJob('+15550110')
        // Both jobs are in flight at once, whichever order the engine runs them in.
        await drainHoldingFirstSend(async () => (await jobs.get(stale)) !== undefined)
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(1)
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sent',
          attempts: 2,
          possibleDuplicates: 0,
        })
      })

      /** The jobs of delivery `id` that are due or running (not those set for later). */
      async function jobsUnderWay(id: string) {
        const jobs = await app.resolve(JOBS).list({ name: NOTIFY_JOBS.deliver, limit: 1_000 })
        const ids = jobs
          .filter((job) => (job.payload as { id: string }).id === id && job.state !== 'scheduled')
          .map((job) => job.id)
        // By job id: BullMQ's list may show a job twice while it is being relayed.
        return new Set(ids).size
      }

      it('sends a delivery once while two runs of its job are under way at once: the second finds the mark held and sends nothing', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'twice', phone: '+15550120', quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        // While the first run is at the channel, a second run of the delivery's job starts, as
        // when the first one's lease passed under a live worker (a lost heartbeat, a slow
        // server) or its engine runs it again.
        await drainHoldingFirstSend(
          async () => (await jobsUnderWay(id)) > 1,
          () => app.resolve(JOBS).enqueue(earlierDeliveryJob, { id }),
        )
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(1)
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sent',
          attempts: 1,
          possibleDuplicates: 0,
          sendingUntil: undefined,
        })
        // The busy run was no attempt and published nothing.
        expect(failed.filter((event) => event.deliveryId === id)).toEqual([])
      })

      it('publishes notification.sent once for a delivery two runs of its job sent at once on a channel with idempotency keys: only the run whose result the ledger recorded tells of it', async () => {
        const recipient: Recipient = { id: 'roomy', routes: { chat: 'room-1' }, quietHours: null }
        const id = (await notify(recipient, new RoomPing())).deliveries[0]?.id ?? ''
        // The first run's send waits at the channel while a second run of the job sends it too
        // and records it (its lease passed to another worker, or its completion's write was lost).
        let sends = 0
        room.beforeSend = async () => {
          sends += 1
          if (sends > 1) return
          await app.resolve(JOBS).enqueue(earlierDeliveryJob, { id })
          while ((await app.resolve(DELIVERIES).get(id))?.status !== 'sent') await pause(5)
        }
        try {
          await drain()
        } finally {
          room.beforeSend = undefined
        }
        expect(room.sent.filter((s) => s.id === id)).toHaveLength(2)
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({ status: 'sent', attempts: 1 })
        expect(sent.filter((event) => event.deliveryId === id)).toHaveLength(1)
      })

      it('waits for a mark whose worker died mid-send until its lease passes, reading it as sending, then as failed; then sends once, counted as a possible duplicate', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'stale', phone: '+15550121', quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        // A worker marked it for its send and died: its mark holds for 500 ms more.
        const until = app.clock.nowMs() + 500
        await sql`update mortar_delivery set status = 'sending', attempts = 1, sending_until = ${until}, sending_token = ${'dead-worker'} where id = ${id}`.execute(
          app.resolve(databaseToken()),
        )
        await drain()
        // Before, the job's run took the mark over at once and sent.
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(0)
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sending',
          sendingUntil: new Date(until),
          possibleDuplicates: 0,
        })
        expect(await deliveries.list('stale', { status: 'sending' })).toHaveLength(1)
        expect((await deliveries.status()).counts).toContainEqual({
          channel: 'sms',
          status: 'sending',
          count: 1,
        })

        await queue.pass(app.clock, 600)
        // Its lease passed with no result: cut off, and to be sent again by its job.
        expect(await deliveries.get(id)).toMatchObject({
          status: 'failed',
          sendingUntil: undefined,
          lastError: expect.stringMatching(/^interrupted/),
        })
        expect(await deliveries.list('stale', { status: 'sending' })).toHaveLength(0)
        expect(await deliveries.list('stale', { status: 'failed' })).toHaveLength(1)
        const counts = (await deliveries.status()).counts
        expect(counts.filter((row) => row.status === 'sending')).toEqual([])
        expect(counts).toContainEqual({ channel: 'sms', status: 'failed', count: 1 })

        await drain()
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(1)
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent', possibleDuplicates: 1 })
      })

      it("counts the send of a replay as a possible duplicate when the dead delivery's last attempt failed transiently under its mark, not when it was refused", async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'unsure', phone: '+15550123', quietHours: null }
        sms.script.push(
          ...Array.from({ length: 3 }, () => ({ status: 'transient' as const, reason: 'timeout' })),
          { status: 'permanent', reason: 'bad number' },
        )
        const unsure = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        await drain()
        // Each retry after a transient failure counted one; the last one may have gone out too.
        expect(await deliveries.get(unsure)).toMatchObject({
          status: 'dead',
          attempts: 3,
          possibleDuplicates: 2,
        })
        const refused = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        await drain()
        expect(await deliveries.get(refused)).toMatchObject({ status: 'dead', attempts: 1 })

        expect(await deliveries.replay([unsure, refused])).toBe(2)
        await drain()
        // Before, the replay's send was not counted: the mark's token went with the dead result.
        expect(await deliveries.get(unsure)).toMatchObject({
          status: 'sent',
          attempts: 4,
          possibleDuplicates: 3,
        })
        // A refusal is certain not to have gone out: its replay is no duplicate.
        expect(await deliveries.get(refused)).toMatchObject({
          status: 'sent',
          attempts: 2,
          possibleDuplicates: 0,
        })
      })

      it("counts the attempt whose mark a run takes over when its job's attempt did not go up (an engine ran it again)", async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'rerun', phone: '+15550124', quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        // Its job's first attempt marked it and vanished; its lease passed. The job's next run
        // is its attempt 1 again.
        await sql`update mortar_delivery set status = 'sending', attempts = 1, sending_until = ${app.clock.nowMs() - 1}, sending_token = ${'vanished'} where id = ${id}`.execute(
          app.resolve(databaseToken()),
        )
        await drain()
        // Before, the run wrote its job's attempt, 1: the vanished attempt was not counted.
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sent',
          attempts: 2,
          possibleDuplicates: 1,
        })
        expect(sms.sent.filter((s) => s.id === id).map((s) => s.attempt)).toEqual([2])
        expect(sent.filter((event) => event.deliveryId === id)).toMatchObject([{ attempts: 2 }])
      })

      it('keeps the attempts a takeover counted when a later attempt ends before sending (suppressed)', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'ahead', phone: '+15550125', quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        // Two attempts marked it, one a takeover by a run of the same job attempt.
        await sql`update mortar_delivery set status = 'failed', attempts = 2 where id = ${id}`.execute(
          app.resolve(databaseToken()),
        )
        deleted.add('ahead')
        try {
          await drain()
        } finally {
          deleted.delete('ahead')
        }
        // Before, its result wrote its job's attempt, 1.
        expect(await deliveries.get(id)).toMatchObject({ status: 'suppressed', attempts: 2 })
      })

      it('counts a delivery once against its throttle when its job runs again after a crash before its result was written', async () => {
        const gil: Recipient = { id: 'gil-throttled', phone: '+15550133', quietHours: null }
        const first = (await notify(gil, new Promo())).deliveries[0]?.id ?? ''
        await drain()
        // Its worker died after the throttle counted it, before its result was written: the row
        // is as it was, and its job runs again.
        await sql`update mortar_delivery set status = 'queued', attempts = 0, sent_at = null where id = ${first}`.execute(
          app.resolve(databaseToken()),
        )
        await app.resolve(JOBS).enqueue(earlierDeliveryJob, { id: first })
        await drain()
        // Before, that run counted it a second time: the window held 2 of 2, and this one was
        // throttled though only one other had gone out.
        await notify(gil, new Promo())
        await drain()
        expect(
          (await app.resolve(DELIVERIES).list(gil.id)).map((d) => d.lastError ?? d.status),
        ).toEqual(['sent', 'sent'])
      })

      it("sends at once a delivery whose stored time zone this worker's runtime does not know, its quiet hours read in UTC, and says why", async () => {
        const deliveries = app.resolve(DELIVERIES)
        const hal: Recipient = { id: 'hal-zone', phone: '+15550134', quietHours: null }
        const id = (await notify(hal, new Promo())).deliveries[0]?.id ?? ''
        // Written by a process whose runtime knew the zone. An empty window: held at no hour.
        await sql`update mortar_delivery set quiet_hours = ${'12:00-12:00 Mars/Olympus_Mons'} where id = ${id}`.execute(
          app.resolve(databaseToken()),
        )
        await drain()
        // Before, each attempt threw E_VALIDATION and the delivery went dead.
        expect(await deliveries.get(id)).toMatchObject({
          status: 'sent',
          attempts: 1,
          lastError:
            "quiet hours read in UTC: time zone 'Mars/Olympus_Mons' is unknown to this worker's runtime",
        })
      })

      it("closes a digest batch whose stored recipient's time zone this runtime does not know, in the module's default zone", async () => {
        const ida: Recipient = {
          id: 'ida-zone',
          email: 'ida@example.com',
          timeZone: 'Europe/Paris',
        }
        await notify(ida, new NewComment('hello'))
        await sql`update mortar_digest_batch set recipient = ${JSON.stringify({ ...ida, timeZone: 'Mars/Olympus_Mons' })} where recipient_id = ${ida.id}`.execute(
          app.resolve(databaseToken()),
        )
        await queue.pass(app.clock, queue.digestMinutes * 60_000 + 1)
        await drain()
        // Before, notify() refused the recipient at every attempt of the close: never sent.
        expect(mailbox.messages('ida@example.com').map((mail) => mail.subject)).toEqual([
          '1 new comments',
        ])
      })

      // The rest checks the ledger's own logic, the same on every queue, and some of it moves the
      // FakeClock ahead of the machine clock, which BullMQ's delays follow: the SQL queue only.
      if (queue.engine !== 'database') return

      it("sends a replayed delivery when an earlier job of it dies meanwhile: the death of a job that is no longer the delivery's ends nothing", async () => {
        const { deliveries, jobs, id, stale } = await replayedBesideEarlierJob('+15550111')
        // Each of the earlier job's 3 attempts is claimed by a worker that dies: it dies too.
        const { adapter } = jobs as unknown as { adapter: QueueAdapter }
        for (const worker of ['killed-1', 'killed-2', 'killed-3']) {
          const now = app.clock.nowMs()
          const claimed = await adapter.claim({
            worker,
            names: ['mortar.notify.deliver'],
            limit: 100,
            nowMs: now,
            leaseMs: -1,
          })
          expect(claimed.map((job) => job.id)).toContain(stale)
          // The others (the replay's job among them) go back unharmed.
          const others = claimed.filter((job) => job.id !== stale).map((job) => job.id)
          await adapter.release(worker, others, now)
        }
        await drain()
        // Before, its onDead wrote the replayed delivery dead, and the replay's job sent nothing.
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(1)
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent' })
      })

      /** A delivery whose first send is held at the channel past its bound (20 ms) until released. */
      async function slowFirstSend(recipientId: string, phone: string) {
        const recipient: Recipient = { id: recipientId, phone, quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        let release!: () => void
        const released = new Promise<void>((resolve) => (release = resolve))
        let sends = 0
        let signal: AbortSignal | undefined
        sms.sendTimeoutMs = 20
        sms.beforeSend = async (outgoing) => {
          sends += 1
          if (sends === 1) {
            signal = outgoing.signal
            await released
          }
        }
        // Given up after 20 ms; its retry (no backoff here) finds the mark held.
        await drain()
        expect(sends).toBe(1)
        // The channel was told: the signal it took during the send aborted at the bound.
        expect(signal?.aborted).toBe(true)
        expect(signal?.reason).toMatchObject({ name: 'TimeoutError' })
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({
          status: 'sending',
          attempts: 1,
        })
        expect(failed.filter((event) => event.deliveryId === id)).toMatchObject([
          { result: 'transient', final: false },
        ])
        return { id, release, sends: () => sends }
      }

      it("records a send given up past the channel's sendTimeoutMs and accepted late while its mark holds: not sent again", async () => {
        const deliveries = app.resolve(DELIVERIES)
        try {
          const slow = await slowFirstSend('late', '+15550126')
          // The slow send goes out after all, after its attempt gave it up.
          slow.release()
          await expect.poll(async () => (await deliveries.get(slow.id))?.status).toBe('sent')
          // Before, its acceptance was dropped: sent again once the lease passed, counted.
          app.clock.advance(40)
          await drain()
          expect(slow.sends()).toBe(1)
          expect(sms.sent.filter((s) => s.id === slow.id)).toHaveLength(1)
          expect(await deliveries.get(slow.id)).toMatchObject({
            status: 'sent',
            attempts: 1,
            possibleDuplicates: 0,
          })
          expect(sent.filter((event) => event.deliveryId === slow.id)).toMatchObject([
            { attempts: 1 },
          ])
        } finally {
          sms.beforeSend = undefined
          sms.sendTimeoutMs = undefined
        }
      })

      it("keeps a send given up past the channel's sendTimeoutMs marked for the lease, then sends again, counted as a possible duplicate; a late acceptance after that is not recorded over it", async () => {
        const deliveries = app.resolve(DELIVERIES)
        try {
          const slow = await slowFirstSend('slow', '+15550122')
          // The mark's lease (twice the bound) passes: the delivery goes out again, counted.
          app.clock.advance(40)
          await drain()
          expect(slow.sends()).toBe(2)
          expect(await deliveries.get(slow.id)).toMatchObject({
            status: 'sent',
            attempts: 2,
            possibleDuplicates: 1,
          })
          // The first send is accepted after all: the row is the second attempt's.
          slow.release()
          await expect.poll(() => sms.sent.filter((s) => s.id === slow.id).length).toBe(2)
          expect(await deliveries.get(slow.id)).toMatchObject({
            status: 'sent',
            attempts: 2,
            possibleDuplicates: 1,
          })
          expect(sent.filter((event) => event.deliveryId === slow.id)).toHaveLength(1)
        } finally {
          sms.beforeSend = undefined
          sms.sendTimeoutMs = undefined
        }
      })

      it('records a renderer that throws as dead with its reason, and still sends the other channels', async () => {
        const result = await notify(ada, new BrokenTemplate())
        expect(result.deliveries.map((d) => [d.channel, d.status, d.reason])).toEqual([
          ['mail', 'dead', `toMail() threw: template exploded; ${NOT_STORED}`],
          ['sms', 'queued', undefined],
        ])
        await drain()
        expect(sms.sent.map((s) => (s.message as { text: string }).text)).toEqual(['still sent'])
        expect(failed).toMatchObject([
          {
            channel: 'mail',
            final: true,
            result: 'permanent',
            reason: `toMail() threw: template exploded; ${NOT_STORED}`,
          },
        ])
      })

      it('tells of a delivery dead at notify() once the ledger’s own transaction commits, not another database’s open inside it', async () => {
        // An app with two databases: told at the other's commit, the event came before the
        // ledger's rows were saved (and even when they then rolled back), or never when the
        // other rolled back alone.
        const other = new Database('sqlite::memory:')
        try {
          await transaction(async () => {
            await other
              .transaction(async () => {
                await notify(ada, new BrokenTemplate())
                throw new Error('the other database declined')
              })
              .catch(() => undefined)
          })
          expect(failed.map((f) => [f.channel, f.final])).toEqual([['mail', true]])
          await drain() // its sms, so that no later test sends it
          failed.length = 0
          await expect(
            transaction(async () => {
              await other.transaction(() => notify(ada, new BrokenTemplate()))
              throw new Error('the ledger database declined')
            }),
          ).rejects.toThrow('the ledger database declined')
          expect(failed).toEqual([])
        } finally {
          await other.destroy()
        }
      })

      it('records a message that is not JSON (a BigInt in its data) as dead, and still sends the other channels', async () => {
        // It was stringified for the ledger outside the renderer's guard: the TypeError failed
        // the whole notify() and the caller's transaction, every channel with it.
        const result = await notify(ada, new UnstorableData())
        expect(result.deliveries.map((d) => [d.channel, d.status, d.reason])).toEqual([
          [
            'inbox',
            'dead',
            expect.stringContaining('toInbox() returned a message that is not JSON'),
          ],
          ['sms', 'queued', undefined],
        ])
        await drain()
        expect(sms.sent.map((s) => (s.message as { text: string }).text)).toEqual(['still sent'])
      })

      it('retries a transient failure and sends once it works; one failing channel does not touch the others', async () => {
        const hank: Recipient = { id: 'hank', email: 'hank@example.com', phone: '+15550103' }
        sms.script.push(
          { status: 'transient', reason: 'timeout' },
          { status: 'not-accepted', reason: 'ECONNREFUSED' },
        )
        await notify(hank, new OrderShipped('o-retry'))
        await drain()
        expect(sms.sent).toHaveLength(1)
        expect(mailbox.messages()).toHaveLength(1)
        const smsDelivery = (await app.resolve(DELIVERIES).list('hank', { channel: 'sms' }))[0]
        // The transient failure may have gone out: the attempt after it counts a possible duplicate.
        expect(smsDelivery).toMatchObject({ status: 'sent', attempts: 3, possibleDuplicates: 1 })
        expect(failed.map((f) => [f.channel, f.final])).toEqual([
          ['sms', false],
          ['sms', false],
        ])
      })

      it("records a provider's message id that no column stores as given (a lone surrogate, NUL, too long): sent once, kept as storable text", async () => {
        const ida: Recipient = { id: 'ida', email: 'ida@example.com', phone: '+15550199' }
        sms.script.push({
          status: 'accepted',
          providerMessageId: `p-\uD800-\u0000-${'x'.repeat(300)}`,
        })
        await notify(ida, new OrderShipped('o-odd'))
        await drain()
        expect(sms.sent.filter((outgoing) => outgoing.recipientId === 'ida')).toHaveLength(1)
        const stored = (await app.resolve(DELIVERIES).list('ida', { channel: 'sms' }))[0]
        expect(stored?.status).toBe('sent')
        expect(stored?.providerMessageId).toBe(`p-\uFFFD-\uFFFD-${'x'.repeat(249)}`)
      })

      it('cuts a long provider id or reason between characters, never inside one: sent once, recorded', async () => {
        const ike: Recipient = { id: 'ike', phone: '+15550198' }
        // Deliveries earlier tests left due go first: the scripted answers are this test's.
        await drain()
        // An emoji across each cut: its first half alone is a lone surrogate, which PostgreSQL's
        // JSON refused, failing the results UPDATE (the delivery sent again, never recorded).
        sms.script.push({
          status: 'accepted',
          providerMessageId: `${'p'.repeat(254)}\u{1F600}tail`,
        })
        await notify(ike, new OrderShipped('o-cut'))
        await drain()
        sms.script.push({
          status: 'permanent',
          reason: `${'x'.repeat(1_985)}\u{1F600}${'y'.repeat(100)}`,
        })
        await notify(ike, new Promo())
        await drain()
        expect(sms.sent.filter((outgoing) => outgoing.recipientId === 'ike')).toHaveLength(1)
        const stored = await app.resolve(DELIVERIES).list('ike', { channel: 'sms' })
        expect(stored.find((d) => d.type === 'promo')).toMatchObject({
          status: 'dead',
          lastError: `permanent: ${'x'.repeat(1_985)}...`,
        })
        expect(stored.find((d) => d.type !== 'promo')).toMatchObject({
          status: 'sent',
          providerMessageId: 'p'.repeat(254),
        })
      })

      it('marks a delivery dead after a permanent failure or its last attempt, and replays it', async () => {
        const gus: Recipient = { id: 'gus', phone: '+15550104' }
        sms.script.push({ status: 'permanent', reason: 'bad number' })
        await notify(gus, new Promo())
        await drain()
        sms.script.push(
          ...Array.from({ length: 3 }, () => ({ status: 'transient' as const, reason: 'down' })),
        )
        await notify(gus, new LoginAlert())
        await drain()
        const deliveries = app.resolve(DELIVERIES)
        const dead = await deliveries.list('gus', { status: 'dead' })
        expect(dead.map((d) => [d.type, d.lastError])).toEqual(
          expect.arrayContaining([
            ['promo', 'permanent: bad number'],
            ['security.login', 'transient: down'],
          ]),
        )
        await expect(deliveries.replay('no-such-id')).rejects.toMatchObject({
          code: 'E_DELIVERY_NOT_FOUND',
        })
        const sentOne = (await deliveries.list('ada', { status: 'sent' }))[0]
        await expect(deliveries.replay(sentOne?.id ?? '')).rejects.toMatchObject({
          code: 'E_DELIVERY_NOT_REPLAYABLE',
        })
        const neverRendered = (await deliveries.list('ada', { status: 'dead' }))[0]
        await expect(deliveries.replay(neverRendered?.id ?? '')).rejects.toMatchObject({
          code: 'E_DELIVERY_NOT_REPLAYABLE',
        })
        expect(await deliveries.replay(dead.map((d) => d.id))).toBe(2)
        await drain()
        expect(await deliveries.list('gus', { status: 'dead' })).toHaveLength(0)
        expect(await deliveries.list('gus', { status: 'sent' })).toHaveLength(2)
        expect(sms.sent.map((s) => s.type).sort()).toEqual(['promo', 'security.login'])
      })

      it('marks a delivery dead whose job was lost (its workers died mid-attempt), and replays it', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const lou: Recipient = { id: 'lou', phone: '+15550106' }
        const id = (await notify(lou, new LoginAlert())).deliveries[0]?.id ?? ''
        // Each of its 3 attempts is claimed by a worker that dies: the leases have already passed.
        const { adapter } = app.resolve(JOBS) as unknown as { adapter: QueueAdapter }
        for (const worker of ['killed-1', 'killed-2', 'killed-3']) {
          const now = app.clock.nowMs()
          const claimed = await adapter.claim({
            worker,
            names: ['mortar.notify.deliver'],
            limit: 10,
            nowMs: now,
            leaseMs: -1,
          })
          expect(claimed.map((job) => job.attempt)).toEqual([Number(worker.slice(-1))])
        }
        await drain()
        expect(sms.sent).toHaveLength(0)
        const dead = await deliveries.get(id)
        expect(dead).toMatchObject({ status: 'dead', attempts: 3 })
        expect(dead?.lastError).toMatch(/^job-dead: the delivery job died: E_JOB_LOST: /)
        expect((await deliveries.dead()).map((d) => d.id)).toContain(id)
        expect((await deliveries.status()).counts).toContainEqual(
          expect.objectContaining({ channel: 'sms', status: 'dead' }),
        )
        expect(failed).toMatchObject([
          { deliveryId: id, channel: 'sms', result: 'job-dead', final: true, attempts: 3 },
        ])
        expect(failed[0]?.reason).toMatch(/E_JOB_LOST/)

        expect(await deliveries.replay(id)).toBe(1)
        await drain()
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent', attempts: 4 })
        expect(sms.sent.map((s) => s.to)).toEqual(['+15550106'])
      })

      it('counts the send of a replay as a possible duplicate when the job died beside a mark whose lease passed', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const recipient: Recipient = { id: 'buried', phone: '+15550126', quietHours: null }
        const id = (await notify(recipient, new LoginAlert())).deliveries[0]?.id ?? ''
        // A worker marked it and died mid-send; then each of the job's 3 attempts is lost.
        await sql`update mortar_delivery set status = 'sending', attempts = 1, sending_until = ${app.clock.nowMs() - 1}, sending_token = ${'dead-worker'} where id = ${id}`.execute(
          app.resolve(databaseToken()),
        )
        const { adapter } = app.resolve(JOBS) as unknown as { adapter: QueueAdapter }
        for (const worker of ['killed-1', 'killed-2', 'killed-3']) {
          const now = app.clock.nowMs()
          await adapter.claim({
            worker,
            names: ['mortar.notify.deliver'],
            limit: 10,
            nowMs: now,
            leaseMs: -1,
          })
        }
        await drain()
        expect(await deliveries.get(id)).toMatchObject({ status: 'dead', possibleDuplicates: 0 })
        expect(await deliveries.replay(id)).toBe(1)
        await drain()
        // Before, the job's death left nothing of the mark: the replay's send was not counted.
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent', possibleDuplicates: 1 })
        expect(sms.sent.filter((s) => s.id === id)).toHaveLength(1)
      })

      it('counts a delivery once against its throttle, however many attempts it takes', async () => {
        const eve: Recipient = { id: 'eve-throttled', phone: '+15550131', quietHours: null }
        // Twice certainly not taken: before, each attempt counted, and the third was throttled.
        sms.script.push(
          { status: 'not-accepted', reason: 'busy' },
          { status: 'not-accepted', reason: 'busy' },
        )
        await notify(eve, new Promo())
        await drain()
        await notify(eve, new Promo())
        await drain()
        expect((await app.resolve(DELIVERIES).list(eve.id)).map((d) => d.status)).toEqual([
          'sent',
          'sent',
        ])
        expect(sms.sent.filter((s) => s.recipientId === eve.id)).toHaveLength(2)
      })

      it('counts a delivery against its throttle when its first attempt failed before counting it', async () => {
        const fay: Recipient = { id: 'fay-throttled', phone: '+15550132', quietHours: null }
        // The first attempt throws before the throttle (recipientExists); before, its retry was
        // no first attempt, never counted, so three went out in a window of two.
        unreachable.add(fay.id)
        for (let i = 0; i < 3; i++) {
          await notify(fay, new Promo())
          await drain()
        }
        expect((await app.resolve(DELIVERIES).list(fay.id)).map((d) => d.status).sort()).toEqual([
          'sent',
          'sent',
          'suppressed',
        ])
        expect(sms.sent.filter((s) => s.recipientId === fay.id)).toHaveLength(2)
      })

      it('records suppressed deliveries: opted out, throttled, no address, recipient deleted', async () => {
        const deliveries = app.resolve(DELIVERIES)
        const lastOf = async (recipientId: string, type: string) =>
          (await deliveries.list(recipientId)).find((d) => d.type === type)
        const carol: Recipient = { id: 'carol', email: 'carol@example.com', phone: '+15550101' }
        await app
          .resolve(PREFERENCES)
          .set('carol', { category: 'marketing', channel: 'sms', enabled: false })
        await expect(
          app.resolve(PREFERENCES).set('carol', { category: 'orders', enabled: false }),
        ).rejects.toMatchObject({
          code: 'E_PREFERENCE_REQUIRED',
        })
        await notify(carol, new Promo())
        await drain()
        expect(await lastOf('carol', 'promo')).toMatchObject({
          status: 'suppressed',
          lastError: "opted out of 'marketing' on sms",
        })
        // critical ignores a global opt-out; the opt-out applies to what was queued before it too
        await notify(carol, new LoginAlert())
        await notify(carol, new Promo())
        await app.resolve(PREFERENCES).set('carol', { category: '*', enabled: false })
        await drain()
        expect(sms.sent.map((s) => s.type)).toEqual(['security.login'])

        const dan: Recipient = { id: 'dan', phone: '+15550102' }
        for (let i = 0; i < 4; i++) await notify(dan, new Promo())
        await drain()
        expect((await deliveries.list('dan')).map((d) => d.status).sort()).toEqual([
          'sent',
          'sent',
          'suppressed',
          'suppressed',
        ])
        expect((await deliveries.list('dan', { status: 'suppressed' }))[0]?.lastError).toMatch(
          /^throttled: more than 2/,
        )
        app.clock.advance(3_600_000)
        await notify(dan, new Promo())
        await drain()
        expect(await deliveries.list('dan', { status: 'sent' })).toHaveLength(3)

        expect((await notify(dan, new OrderShipped('o-noemail'))).deliveries[0]).toMatchObject({
          channel: 'mail',
          status: 'suppressed',
          reason: 'the recipient has no mail address',
        })

        await notify({ id: 'erin', email: 'erin@example.com' }, new OrderShipped('o-deleted'))
        deleted.add('erin')
        await drain()
        expect((await deliveries.list('erin')).map((d) => [d.status, d.lastError])).toEqual([
          ['suppressed', 'recipient deleted before delivery'],
          ['suppressed', 'recipient deleted before delivery'],
        ])
        // Its two deliveries were claimed together: one question for both.
        expect(asked.filter((id) => id === 'erin')).toEqual(['erin'])
        // A later delivery asks again: the answer is not kept.
        deleted.delete('erin')
        await notify({ id: 'erin', email: 'erin@example.com' }, new OrderShipped('o-restored'))
        await drain()
        expect(await deliveries.list('erin', { status: 'sent' })).toHaveLength(2)
        expect(asked.filter((id) => id === 'erin')).toEqual(['erin', 'erin'])
        const status = await deliveries.status()
        expect(
          status.counts.find((c) => c.channel === 'sms' && c.status === 'suppressed')?.count,
        ).toBeGreaterThanOrEqual(3)
      })

      it("keeps a delivery to its budget of attempts across a quiet-hours hold: the job that goes on at the window's end starts no new budget", async () => {
        const deliveries = app.resolve(DELIVERIES)
        app.clock.set('2026-06-01T19:59:59Z') // 21:59:59 in Paris: quiet hours start in a second
        const recipient: Recipient = { id: 'night', phone: '+15550130', timeZone: 'Europe/Paris' }
        sms.script.push(
          ...Array.from({ length: 4 }, () => ({ status: 'transient' as const, reason: 'timeout' })),
        )
        // The first attempt fails as the window opens: its retry is held to the window's end.
        sms.beforeSend = async () => {
          sms.beforeSend = undefined
          app.clock.set('2026-06-01T20:00:01Z')
        }
        const id = (await notify(recipient, new Reminder())).deliveries[0]?.id ?? ''
        await drain()
        expect(await deliveries.get(id)).toMatchObject({ status: 'failed', attempts: 1 })
        app.clock.set('2026-06-02T05:30:00Z') // 07:30 in Paris
        await drain()
        // Three attempts in all (the module's), not three more after the hold.
        expect(await deliveries.get(id)).toMatchObject({ status: 'dead', attempts: 3 })
        expect(sms.script).toHaveLength(1)
      })

      it("delays non-critical deliveries to the end of quiet hours in the recipient's time zone", async () => {
        app.clock.set('2026-06-01T21:30:00Z') // 23:30 in Paris
        const promo = await notify(ada, new Promo())
        expect(promo.deliveries[0]).toMatchObject({
          status: 'queued',
          runAt: new Date('2026-06-02T05:00:00Z'),
        })
        const alert = await notify(ada, new LoginAlert())
        expect(alert.deliveries[0]?.runAt).toBeUndefined()
        await drain()
        expect(sms.sent.map((s) => s.type)).toEqual(['security.login'])
        app.clock.set('2026-06-02T05:00:01Z')
        await drain()
        expect(sms.sent.map((s) => s.type)).toEqual(['security.login', 'promo'])
      })

      it('sends to on-demand recipients, and NOTIFIER is the same notifier', async () => {
        await app
          .resolve(NOTIFIER)
          .notify(
            route('mail', 'ops@example.com').route('sms', '+15550199'),
            new OrderShipped('o-ops'),
          )
        await drain()
        expect(mailbox.messages('ops@example.com')).toHaveLength(1)
      })
    })
  }
}
