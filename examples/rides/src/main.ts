import { stopOnSignals } from '@mortar/core'
import { loadRidesConfig } from './config.js'
import { buildRides, listen } from './server.js'

const config = loadRidesConfig()
const rides = await buildRides(config)
const server = await listen(rides, { port: config.port, host: config.host })

// The server closes, then the app; a second Ctrl-C or a closed terminal does not cut it short.
stopOnSignals(() => server.close(), rides.app.logger)

console.log(`rides listening on ${server.url}`)
