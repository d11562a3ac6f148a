import { createShopApp } from './app.js'
import { loadShopConfig } from './config.js'

// A worker process: the shop's app with no HTTP server, running the background jobs (mail, SMS,
// analytics rollups) from the same database as the web processes. Start as many as needed;
// run the web processes with MORTAR_WORKERS=false to leave the jobs to them.
const { app } = createShopApp(loadShopConfig())
await app.migrate()
await app.start()
app.handleSignals()
app.logger.info('shop worker: running jobs')
