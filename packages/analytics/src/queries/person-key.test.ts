import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ viewed: z.object({}), bought: z.object({}) })
const FROM = Date.UTC(2026, 2, 2)
const DAY = 86_400_000

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`people by identity, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, timeZone: 'UTC' })
      // The user 'bob', and a visitor whose own cookie is 'bob', linked to no one.
      for (const who of [{ userId: 'bob' }, { anonymousId: 'bob' }]) {
        subject.analytics.track('viewed', {}, { ...who, timestamp: FROM + 1 })
        subject.analytics.track('bought', {}, { ...who, timestamp: FROM + DAY + 1 })
      }
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    it('keeps a user and an anonymous visitor of the same id text apart in uniques, funnels and retention', async () => {
      const { analytics } = subject
      const range = { from: new Date(FROM), to: new Date(FROM + 2 * DAY) }
      expect(await analytics.uniques([], range)).toBe(2)
      const funnel = await analytics.funnel([{ event: 'viewed' }, { event: 'bought' }], {
        ...range,
        windowMs: 2 * DAY,
      })
      expect(funnel.map((step) => step.count)).toEqual([2, 2])
      const [cohort] = await analytics.retention({
        cohort: { event: 'viewed' },
        returning: { event: 'bought' },
        ...range,
        period: 'day',
        periods: 1,
      })
      expect(cohort?.returned).toEqual([2, 2])
    })
  })
}
