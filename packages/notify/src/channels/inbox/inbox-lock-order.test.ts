import { DATABASE, isDeadlock } from '@mortar/core'
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
import { Inbox } from './inbox-store.js'

for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] inbox lock order on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`inbox lock order on ${engine.title}`, () => {
    let started: EngineApp<TestApp> | undefined
    let app: TestApp
    let inbox: Inbox

    beforeAll(async () => {
      started = await startEngineApp(engine, (url) =>
        createTestApp({ database: url, modules: [inboxTestModule] }),
      )
      app = started.app
      inbox = app.resolve(INBOX)
    })
    afterAll(() => started?.dispose())

    /** Adds an item for each recipient in turn in one transaction, meeting the other between. */
    const write = (tag: string, order: readonly [string, string], meet: () => Promise<void>) =>
      app.resolve(DATABASE).transaction(async () => {
        const [first, second] = order
        await inbox.add({ id: `${tag}-1`, recipientId: first, type: 't', message: { title: tag } })
        await meet()
        await inbox.add({ id: `${tag}-2`, recipientId: second, type: 't', message: { title: tag } })
      })

    if (engine.engine === 'sqlite') {
      it('runs two transactions adding for two recipients in opposite orders one after the other (one connection): never a deadlock', async () => {
        await Promise.all([
          write('sa', ['s1', 's2'], async () => {}),
          write('sb', ['s2', 's1'], async () => {}),
        ])
        expect((await inbox.counts('s1')).unread).toBe(2)
        expect((await inbox.counts('s2')).unread).toBe(2)
      })
      return
    }

    it('ends one of two transactions that change two recipients’ inboxes in opposite orders with a typed, retryable error; run again, it commits', async () => {
      let arrived = 0
      let go = () => {}
      const both = new Promise<void>((resolve) => {
        go = resolve
      })
      // Each has locked its first recipient's version before either asks for its second.
      const meet = async () => {
        arrived += 1
        if (arrived === 2) go()
        await both
      }
      const results = await Promise.allSettled([
        write('a', ['r1', 'r2'], meet),
        write('b', ['r2', 'r1'], meet),
      ])
      const failed = results.flatMap((result) => (result.status === 'rejected' ? [result] : []))
      expect(failed).toHaveLength(1)
      // Before, the driver's deadlock error (40P01, errno 1213) came out as it was: a 500.
      expect(failed[0]?.reason).toMatchObject({ code: 'E_INBOX_CONFLICT', status: 503 })
      expect(isDeadlock((failed[0]?.reason as Error | undefined)?.cause)).toBe(true)
      // Rolled back whole: the loser's first item is not there; run again, it commits.
      const loser = results[0]?.status === 'rejected' ? 'a' : 'b'
      expect(await inbox.get(loser === 'a' ? 'r1' : 'r2', `${loser}-1`)).toBeUndefined()
      await write(loser, loser === 'a' ? ['r1', 'r2'] : ['r2', 'r1'], async () => {})
      expect((await inbox.counts('r1')).unread).toBe(2)
      expect((await inbox.counts('r2')).unread).toBe(2)
    })
  })
}
