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

    // Cut to 255 characters as the columns count them; a cut at 255 UTF-16 units split the
    // last pair, stored as U+FFFD.
    it('keeps the first 255 characters of an unknown name and of an overlong user id', async () => {
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
        .select(['name', 'user_id'])
        .execute()
      expect(rows.map((row) => row.name).sort()).toEqual(
        ['known', [...NAME].slice(0, 255).join('')].sort(),
      )
      expect(rows.map((row) => row.user_id).sort()).toEqual(
        [[...USER].slice(0, 255).join(''), 'u1'].sort(),
      )
    })
  })
}
