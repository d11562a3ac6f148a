// Run by stop-on-signals.test.ts in a process of its own: the shop on the SQLite file given,
// stopped on signals as main.ts stops it. Its shutdown waits for a line on stdin, so the test
// can send more signals while it runs; events are tracked before it and while it runs.
import { ANALYTICS } from '@mortar/analytics'
import { stopOnSignals } from '@mortar/core'
import { loadShopConfig } from './config.js'
import { buildShop } from './server.js'

const { app, server } = await buildShop(
  loadShopConfig({ NODE_ENV: 'test', DATABASE_URL: process.argv[2] }),
)
const analytics = app.resolve(ANALYTICS)
const track = (from: number) => {
  for (let n = from; n < from + 250; n++) analytics.track('product_viewed', { productId: `p-${n}` })
}
const released = new Promise((resolve) => process.stdin.once('data', resolve))
stopOnSignals(async () => {
  process.stdout.write('stopping\n')
  await released
  track(250)
  await server.close()
}, app.logger)
track(0)
process.stdout.write('ready\n')
// Kept alive only by this timer: the signals must end the process by themselves.
setTimeout(() => process.exit(3), 120_000)
