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

    it('commits many transactions that change overlapping inboxes in shuffled orders, every version raised once per change', async () => {
      const recipients = ['m1', 'm2', 'm3', 'm4']
      const orders = [
        ['m1', 'm2', 'm3', 'm4'],
        ['m4', 'm3', 'm2', 'm1'],
        ['m2', 'm4', 'm1', 'm3'],
        ['m3', 'm1', 'm4', 'm2'],
      ]
      await Promise.all(
        orders.map((order, n) =>
          app.resolve(DATABASE).transaction(async () => {
            for (const [k, recipientId] of order.entries()) {
              await inbox.add({
                id: `m-${n}-${k}`,
                recipientId,
                type: 't',
                message: { title: 'm' },
              })
              await new Promise((resolve) => setImmediate(resolve))
            }
            await inbox.archive(order[0] as string, [`m-${n}-0`])
          }),
        ),
      )
      for (const recipientId of recipients) {
        const counts = await inbox.counts(recipientId)
        expect(counts.unread + counts.archived).toBe(4)
        // Four adds and one archive of each recipient (each is first in one order).
        expect(counts.version).toBe(5)
        const added = await inbox.added([{ recipientId, after: 0, upTo: counts.version }])
        expect(added).toHaveLength(4)
        expect(new Set(added.map((entry) => entry.version)).size).toBe(4)
      }
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

    /** Resolves for each of two callers once both have arrived: each holds its first locks. */
    const meeting = () => {
      let arrived = 0
      let go = () => {}
      const both = new Promise<void>((resolve) => {
        go = resolve
      })
      return async () => {
        arrived += 1
        if (arrived === 2) go()
        await both
      }
    }

    it('commits two transactions that add for two recipients in opposite orders, each call separate: no deadlock, no conflict, versions in commit order', async () => {
      const before = await inbox.versions(['r1', 'r2'])
      const meet = meeting()
      const results = await Promise.allSettled([
        write('a', ['r1', 'r2'], meet),
        write('b', ['r2', 'r1'], meet),
      ])
      // Before, each call locked its recipient's version at once: one was ended as a deadlock.
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled'])
      for (const recipient of ['r1', 'r2']) {
        const counts = await inbox.counts(recipient)
        expect(counts.unread).toBe(2)
        expect(counts.version).toBe((before.get(recipient) ?? 0) + 2)
        // Each item has a version of its own, the two of them the two raises, none unstamped.
        const added = await inbox.added([
          { recipientId: recipient, after: before.get(recipient) ?? 0, upTo: counts.version },
        ])
        expect(added.map((entry) => entry.version).sort()).toEqual([
          (before.get(recipient) ?? 0) + 1,
          (before.get(recipient) ?? 0) + 2,
        ])
      }
    })

    it('ends one of two transactions that mark the same two items in opposite orders with a typed, retryable error', async () => {
      await inbox.add({ id: 'x1', recipientId: 'x-r1', type: 't', message: { title: 'x' } })
      await inbox.add({ id: 'x2', recipientId: 'x-r2', type: 't', message: { title: 'x' } })
      const meet = meeting()
      const mark = (first: readonly [string, string], second: readonly [string, string]) =>
        app.resolve(DATABASE).transaction(async () => {
          await inbox.archive(first[0], [first[1]])
          await meet()
          await inbox.archive(second[0], [second[1]])
        })
      const results = await Promise.allSettled([
        mark(['x-r1', 'x1'], ['x-r2', 'x2']),
        mark(['x-r2', 'x2'], ['x-r1', 'x1']),
      ])
      const failed = results.flatMap((result) => (result.status === 'rejected' ? [result] : []))
      // The items' own rows: a conflict of the app's data, which no order of ours can prevent.
      expect(failed).toHaveLength(1)
      expect(failed[0]?.reason).toMatchObject({ code: 'E_INBOX_CONFLICT', status: 503 })
      expect(isDeadlock((failed[0]?.reason as Error | undefined)?.cause)).toBe(true)
    })
  })
}
