import { DATABASE, Database } from '@mortar/core'
import {
  createTestApp,
  type EngineApp,
  startEngineApp,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inboxTestModule } from '../../test-support/inbox-test-module.js'
import { INBOX } from './inbox-channel.js'
import type { Inbox, InboxChange } from './inbox-store.js'

// An app with two databases: an inbox change belongs to the inbox database's transaction, though
// another database's is open inside it. Its version raise and its announcement were registered
// on the innermost transaction, the other's: rolled back alone, it left the item with no
// version; committed first, it announced a change the inbox's rollback then undid.
for (const engine of testEngines()) {
  if (engine.skip)
    console.info(`[skipped] inbox with another database on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(
    `inbox with another database on ${engine.title}`,
    () => {
      let started: EngineApp<TestApp> | undefined
      let app: TestApp
      let inbox: Inbox
      let other: Database

      beforeAll(async () => {
        started = await startEngineApp(engine, (url) =>
          createTestApp({ database: url, modules: [inboxTestModule] }),
        )
        app = started.app
        inbox = app.resolve(INBOX)
        other = new Database('sqlite::memory:')
      })
      afterAll(async () => {
        await other?.destroy()
        await started?.dispose()
      })

      const add = (id: string, recipientId: string) =>
        inbox.add({ id, recipientId, type: 't', message: { title: id } })

      it('raises the version of an item added inside another database’s transaction at its own commit, not the other’s', async () => {
        const heard: InboxChange[] = []
        const stop = inbox.onChanged((change) => heard.push(change))
        try {
          await app.resolve(DATABASE).transaction(async () => {
            await other
              .transaction(async () => {
                await add('od-1', 'od1')
                throw new Error('the other database declined')
              })
              .catch(() => undefined)
          })
          const counts = await inbox.counts('od1')
          expect(counts).toMatchObject({ unread: 1, version: 1 })
          const added = await inbox.added([{ recipientId: 'od1', after: 0, upTo: 1 }])
          expect(added.map((entry) => [entry.item.id, entry.version])).toEqual([['od-1', 1]])
          expect(heard.map((change) => [change.recipientId, change.version])).toEqual([['od1', 1]])
          // The other commits first, the inbox's transaction then rolls back: nothing is told.
          heard.length = 0
          await expect(
            app.resolve(DATABASE).transaction(async () => {
              await other.transaction(() => add('od-2', 'od2'))
              throw new Error('the inbox database declined')
            }),
          ).rejects.toThrow('the inbox database declined')
          expect(heard).toEqual([])
          expect(await inbox.counts('od2')).toMatchObject({ unread: 0, version: 0 })
        } finally {
          stop()
        }
      })
    },
  )
}
