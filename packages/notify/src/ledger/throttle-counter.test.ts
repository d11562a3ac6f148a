import { DATABASE, Database } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFIER } from '../module/notify-tokens.js'
import { Promo } from '../test-support/promo.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { countDeliveries, type ThrottleKey } from './throttle-counter.js'

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`throttle counters on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: PrivateDatabaseUrl
    let started: TestApp
    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      started = await startedNotifyTestApp(
        { channels: [recordingChannel('sms', (recipient) => recipient.phone)] },
        database.url,
      )
    })
    afterAll(async () => {
      await started?.stop()
      await database?.drop()
    })
    const app = () => started

    /** `count` new deliveries (rows of the ledger), one per recipient `prefix-n`. */
    async function deliveries(prefix: string, count: number): Promise<ThrottleKey[]> {
      const recipients = Array.from({ length: count }, (_, n) => ({
        id: `${prefix}-${n}`,
        phone: `+1555${n}`,
      }))
      const result = await app().resolve(NOTIFIER).notify(recipients, new Promo())
      return result.deliveries.map((delivery) => ({
        deliveryId: delivery.id,
        recipientId: delivery.recipientId,
        category: 'marketing',
        channel: 'sms',
        windowStart: 0,
      }))
    }

    /** A second connection to the app's database: another process counting. */
    async function secondConnection<T>(use: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
      const other = new Database(database.url)
      try {
        await other.connect()
        return await use(other.root as Kysely<unknown>)
      } finally {
        await other.destroy()
      }
    }
    const root = () => app().resolve(DATABASE).root as Kysely<unknown>

    it('counts a delivery once however often it is counted: a count run again gets its first count back', async () => {
      const [one, two] = await deliveries('again', 2)
      const first = { ...(one as ThrottleKey), recipientId: 'same' }
      const second = { ...(two as ThrottleKey), recipientId: 'same' }
      expect(await countDeliveries(root(), [first])).toEqual([1])
      // Its job ran again (its worker died before its result was written), in a later window too.
      expect(await countDeliveries(root(), [first, { ...first, windowStart: 3_600_000 }])).toEqual([
        1, 1,
      ])
      expect(await countDeliveries(root(), [second, first])).toEqual([2, 1])
    })

    if (engine.engine === 'sqlite') return

    it('counts a delivery counted from two connections at once once', async () => {
      const keys = (await deliveries('race', 30)).map((key) => ({ ...key, recipientId: 'racer' }))
      const [a, b] = await secondConnection((other) =>
        Promise.all([countDeliveries(root(), keys), countDeliveries(other, [...keys].reverse())]),
      )
      // Whichever counted it first, each delivery has one count, and the window 30.
      expect(b).toEqual([...a].reverse())
      expect([...a].sort((x, y) => x - y)).toEqual(keys.map((_, n) => n + 1))
      expect(
        await countDeliveries(
          root(),
          (await deliveries('racer-next', 1)).map((key) => ({ ...key, recipientId: 'racer' })),
        ),
      ).toEqual([31])
    })

    it('counts the same keys from two connections in opposite orders, without a deadlock', async () => {
      for (let round = 1; round <= 10; round++) {
        const first = await deliveries(`round-${round}-a`, 20)
        const second = await deliveries(`round-${round}-b`, 20)
        const keys = (list: ThrottleKey[]) =>
          list.map((key, n) => ({ ...key, recipientId: `u-${n}` }))
        const [a, b] = await secondConnection((other) =>
          Promise.all([
            countDeliveries(root(), keys(first)),
            countDeliveries(other, keys(second).reverse()),
          ]),
        )
        // Each recipient counted twice per round: one of the two saw 2·round, the other one less.
        for (let n = 0; n < 20; n++) {
          expect([a[n], b[19 - n]].sort((x, y) => Number(x) - Number(y))).toEqual([
            2 * round - 1,
            2 * round,
          ])
        }
      }
    })
  })
}
