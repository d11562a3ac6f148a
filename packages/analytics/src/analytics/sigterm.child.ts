// Run by sigterm.test.ts in a process of its own: tracks 10,000 events that stay buffered (the
// batch is larger and the age longer), says so, and waits for SIGTERM.
import 'reflect-metadata'
import { createApp } from '@mortar/core'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { ANALYTICS } from './analytics.js'
import { analyticsModule } from './analytics-module.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string(), n: z.int() }) })
const url = process.argv[2] as string
const app = createApp({
  database: url,
  jobs: { workers: false },
  modules: [
    analyticsModule({
      events,
      buffer: { capacity: 20_000, batchSize: 20_000, batchBytes: 50_000_000, maxAgeMs: 600_000 },
      flushOnStopMs: 60_000,
    }),
  ],
})
await app.start()
app.handleSignals({ timeoutMs: 90_000 })
const analytics = app.resolve(ANALYTICS)
for (let n = 0; n < 10_000; n++) {
  analytics.track('product_viewed', { productId: `p-${n % 50}`, n }, { userId: `u-${n % 500}` })
}
await new Promise((resolve) => setTimeout(resolve, 50))
const { buffered, stored } = analytics.stats()
process.stdout.write(`${JSON.stringify({ buffered, stored })}\n`)
// Kept alive only by this timer: SIGTERM must end the process by itself, after the flush.
setTimeout(() => process.exit(3), 120_000)
