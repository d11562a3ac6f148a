import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ known: z.object({}) })
// 255 characters, the last a tea cup: 256 UTF-16 units.
const NAME = `${'n'.repeat(254)}🍵 and more`
const USER = `${'u'.repeat(254)}🍵 and more`

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`failed event texts, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
    })
    afterAll(() => subject?.close())

    // The name column shows the first 255 characters as it counts them (a cut at 255 UTF-16
    // units split the last pair, stored as U+FFFD); the name and user id are kept whole beside.
    it('keeps an overlong unknown name and user id whole, the name column its first 255 characters', async () => {
      const track = subject.analytics.track.bind(subject.analytics) as (
        name: string,
        properties: object,
        options: object,
      ) => void
      track(NAME, {}, { userId: 'u1' })
      track('known', {}, { userId: USER })
      await subject.analytics.flush()
      const rows = await subject.db
        .selectFrom('mortar_analytics_failed_event')
        .select(['name', 'user_id', 'whole_name', 'whole_user_id'])
        .execute()
      expect(rows.map((row) => row.name).sort()).toEqual(
        ['known', [...NAME].slice(0, 255).join('')].sort(),
      )
      expect(rows.map((row) => row.whole_name).sort()).toEqual([JSON.stringify(NAME), null])
      // An id cut to fit could be another user's: NULL in the column, whole beside it.
      expect(rows.map((row) => row.user_id).sort()).toEqual([null, 'u1'])
      expect(rows.map((row) => row.whole_user_id).sort()).toEqual([JSON.stringify(USER), null])
    })
  })
}
