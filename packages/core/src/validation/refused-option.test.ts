import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createApp } from '../app/create-app.js'
import { FakeClock } from '../clock/fake-clock.js'
import { resolveBodyLimit } from '../http/shared/body-limit.js'
import { defineJob } from '../jobs/define-job.js'

// Values whose String() throws: an object with a null prototype, and one inside an array.
const UNPRINTABLE: unknown[] = [Object.create(null), [Object.create(null)], { toString: 1 }]

describe('a refused option of any value', () => {
  it('is reported with its type, never replaced by the error of printing it', async () => {
    const app = createApp({ modules: [] })
    await app.start()
    for (const value of UNPRINTABLE) {
      await expect(app.stop({ timeoutMs: value as number })).rejects.toThrow(/got object/)
      expect(() =>
        defineJob({
          name: 'x',
          timeout: value as number,
          schema: z.object({}),
          handler: () => undefined,
        }),
      ).toThrow(/got object/)
      expect(() =>
        defineJob({
          name: 'x',
          attempts: value as number,
          schema: z.object({}),
          handler: () => undefined,
        }),
      ).toThrow(/got object/)
      expect(() =>
        defineJob({ name: value as string, schema: z.object({}), handler: () => undefined }),
      ).toThrow(/got object/)
      expect(() => new FakeClock().advance(value as number)).toThrow(/got object/)
      expect(() => resolveBodyLimit(value as number)).toThrow(/got object/)
    }
    await expect(app.stop({ timeoutMs: 10n as unknown as number })).rejects.toThrow(/got 10/)
    await app.stop()
  })
})
