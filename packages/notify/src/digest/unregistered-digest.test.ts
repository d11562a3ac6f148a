import { createLogger, databaseToken, JOBS, type QueueAdapter } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { notifyModule } from '../module/notify-module.js'
import { NOTIFY_JOBS } from '../module/notify-module.js'
import { notifyCommands } from '../module/notify-commands.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import type { Recipient } from '../notification/recipient.js'
import { commentDigest, NewComment } from '../test-support/comment-digest.js'
import { unsentDigestBatches } from './digest-store.js'

const WINDOW = 31 * 60_000

/** What a `mortar notify` command prints to stdout, run against `app`. */
async function runCommand(app: TestApp, name: string, args: string[]): Promise<string[]> {
  const out: string[] = []
  const command = notifyCommands.find((c) => c.name === name)
  await command?.run({
    app: app as never,
    args,
    stdout: (line) => out.push(line),
    stderr: () => undefined,
  })
  return out
}

for (const engine of testEngines()) {
  const title = `a digest no longer registered, on ${engine.title}`
  if (engine.skip) console.info(`[skipped] ${title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(title, () => {
    let database: PrivateDatabaseUrl
    const mailbox = devMailbox()
    // The same database before and after a deploy that removed the digest.
    const apps: TestApp[] = []
    const appWith = (digests: boolean) => {
      const app = createTestApp({
        database: database.url,
        logger: createLogger({ level: 'silent' }),
        jobs: { engine: 'database', workers: false },
        modules: [
          notifyModule({
            channels: [mailChannel({ from: 'Shop <shop@example.com>', transport: mailbox })],
            digests: digests ? [commentDigest] : [],
          }),
        ],
      })
      apps.push(app)
      return app
    }
    let registered: TestApp
    let removed: TestApp

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      registered = appWith(true)
      removed = appWith(false)
      await registered.migrate()
      for (const app of apps) {
        app.clock.set('2026-06-01T10:00:00Z')
        await app.start()
      }
    })
    afterAll(async () => {
      for (const app of apps) await app.stop()
      await database.drop()
    })

    it('closes its open batch unsent as orphaned, and sends the items with the next batch once it is back', async () => {
      const ada: Recipient = { id: 'ada', email: 'ada@example.com' }
      const db = registered.resolve(databaseToken())
      await registered.resolve(NOTIFIER).notify(ada, new NewComment('one'))
      expect(await unsentDigestBatches(db, 'ada')).toMatchObject([{ status: 'open', items: 1 }])

      // The batch's close runs where the digest is gone: closed, nothing sent, nothing retried.
      removed.clock.advance(WINDOW)
      await removed.resolve(JOBS).drain()
      expect(await unsentDigestBatches(db, 'ada')).toMatchObject([
        { digestKey: 'comments', status: 'orphaned', items: 1 },
      ])
      expect(mailbox.messages()).toHaveLength(0)
      // Its item is no delivery: status and the recipient's listing show the orphaned batch.
      const deliveries = removed.resolve(DELIVERIES)
      expect((await deliveries.status()).digests).toEqual([
        { digestKey: 'comments', status: 'orphaned', batches: 1, items: 1 },
      ])
      expect(await deliveries.digests('ada')).toMatchObject([{ status: 'orphaned', items: 1 }])
      const printed = await runCommand(removed, 'notify status', [])
      expect(printed.slice(0, 2).map((line) => line.split(/\s+/))).toEqual([
        ['digest', 'status', 'batches', 'items'],
        ['comments', 'orphaned', '1', '1'],
      ])
      expect(printed[2]).toMatch(/^orphaned: closed unsent, its digest is not registered/)
      expect((await runCommand(removed, 'notify status', ['--recipient', 'ada']))[0]).toMatch(
        / digest comments {2}orphaned {2}items 1 {2}orphaned: /,
      )
      expect((await removed.resolve(JOBS).status()).counts).not.toContainEqual(
        expect.objectContaining({ name: NOTIFY_JOBS.closeDigest, state: 'dead' }),
      )

      // Registered again: a new batch opens and takes the orphaned item with it.
      registered.clock.advance(WINDOW)
      await registered.resolve(NOTIFIER).notify(ada, new NewComment('two'))
      expect(await unsentDigestBatches(db, 'ada')).toMatchObject([{ status: 'open', items: 2 }])
      registered.clock.advance(WINDOW)
      await registered.resolve(JOBS).drain()
      const mails = mailbox.messages('ada@example.com')
      expect(mails.map((mail) => [mail.subject, mail.text])).toEqual([
        ['2 new comments', 'one\ntwo'],
      ])
    })

    it('queues the close again when an item joins a batch whose close job died', async () => {
      const bob: Recipient = { id: 'bob', email: 'bob@example.com' }
      const db = registered.resolve(databaseToken())
      await registered.resolve(NOTIFIER).notify(bob, new NewComment('first'))
      // Every attempt of the close job is claimed by a worker that dies: the job is dead.
      registered.clock.advance(WINDOW)
      const { adapter } = registered.resolve(JOBS) as unknown as { adapter: QueueAdapter }
      for (let claims = 0; claims < 10; claims++) {
        const now = registered.clock.nowMs()
        await adapter.claim({
          worker: `killed-${claims}`,
          names: [NOTIFY_JOBS.closeDigest],
          limit: 10,
          nowMs: now,
          leaseMs: -1,
        })
      }
      await registered.resolve(JOBS).drain()
      expect(await unsentDigestBatches(db, 'bob')).toMatchObject([{ items: 1 }])

      await registered.resolve(NOTIFIER).notify(bob, new NewComment('second'))
      await registered.resolve(JOBS).drain()
      expect(await unsentDigestBatches(db, 'bob')).toEqual([])
      expect(mailbox.messages('bob@example.com').map((mail) => mail.text)).toEqual([
        'first\nsecond',
      ])
    })
  })
}
