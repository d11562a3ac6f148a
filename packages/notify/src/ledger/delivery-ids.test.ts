import { DATABASE, uuidV7Time } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/inbox-channel.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import type { LedgerTables } from './delivery-table.js'

class Note extends Notification {
  readonly type = 'note'
  via() {
    return ['inbox'] as const
  }
  toInbox() {
    return { title: 'Hello' }
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`delivery ids on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp({ channels: [inboxChannel()] }, database.url)
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    it('are made in time order, so a new delivery lands at the end of the primary key', async () => {
      // Random ids landed anywhere in the key: on PostgreSQL each insert into a large ledger
      // touched another page of it, each written whole to the WAL once after every checkpoint.
      const notifier = app.resolve(NOTIFIER)
      const calls: { at: number; ids: string[] }[] = []
      for (let call = 0; call < 12; call += 1) {
        app.clock.advance(call % 3 === 0 ? 1 : 60_000)
        const recipients = [{ id: `b-${call}` }, { id: `a-${call}` }, { id: `c-${call}` }]
        const result = await notifier.notify(recipients, new Note())
        calls.push({ at: app.clock.nowMs(), ids: result.deliveries.map((d) => d.id) })
      }
      const db = app.resolve(DATABASE).kysely as unknown as Kysely<LedgerTables>
      // In the order the database keeps the key in: each call's ids after the earlier calls'.
      const stored = await db.selectFrom('mortar_delivery').select('id').orderBy('id').execute()
      const callOf = new Map(calls.flatMap((c, i) => c.ids.map((id) => [id, i] as const)))
      const order = stored.map((row) => callOf.get(row.id))
      expect(order).toEqual([...order].sort((a, b) => (a ?? -1) - (b ?? -1)))
      expect(order).toHaveLength(36)
      for (const call of calls) {
        for (const id of call.ids) expect(uuidV7Time(id)).toBe(call.at)
      }
    })
  })
}
