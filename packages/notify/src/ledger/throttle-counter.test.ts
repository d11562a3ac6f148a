import { Database, type MigrationDatabase } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { countDeliveries, createThrottleTable, type ThrottleKey } from './throttle-counter.js'

// Several processes count at once; only server engines have two connections to race.
for (const engine of testEngines().filter((e) => e.engine !== 'sqlite')) {
  describe.skipIf(engine.skip !== undefined)(`throttle counters on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)

    it('counts the same keys from two connections in opposite orders, without a deadlock', async () => {
      const target = await privateDatabaseUrl(engine)
      const first = new Database(target.url)
      const second = new Database(target.url)
      try {
        await first.connect()
        await second.connect()
        await createThrottleTable.up(first.root as MigrationDatabase, { engine: engine.engine })
        const keys: ThrottleKey[] = Array.from({ length: 40 }, (_, n) => ({
          recipientId: `u-${n}`,
          category: 'marketing',
          channel: 'email',
          windowStart: 0,
        }))
        const reversed = [...keys].reverse()
        for (let round = 1; round <= 20; round++) {
          const [a, b] = await Promise.all([
            countDeliveries(first.root as Kysely<unknown>, keys),
            countDeliveries(second.root as Kysely<unknown>, reversed),
          ])
          // Each key counted twice per round: one of the two saw 2·round, the other one less.
          for (let n = 0; n < keys.length; n++) {
            expect([a[n], b[keys.length - 1 - n]].sort((x, y) => Number(x) - Number(y))).toEqual([
              2 * round - 1,
              2 * round,
            ])
          }
        }
      } finally {
        await first.destroy()
        await second.destroy()
        await target.drop()
      }
    })
  })
}
