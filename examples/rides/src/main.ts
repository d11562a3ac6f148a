import { loadRidesConfig } from './config.js'
import { buildRides, listen } from './server.js'

const config = loadRidesConfig()
const rides = await buildRides(config)
const server = await listen(rides, { port: config.port, host: config.host })

let closing = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) return
  closing = true
  rides.app.logger.info({ signal }, 'rides: shutting down')
  try {
    await server.close()
    process.exit(0)
  } catch (error) {
    rides.app.logger.error({ err: error }, 'rides: shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)

console.log(`rides listening on ${server.url}`)
