import { stopOnSignals } from '@mortar/core'
import { loadGameConfig } from './config.js'
import { buildGame } from './server.js'

const config = loadGameConfig()
const { app, server } = await buildGame(config)

// The server closes, then the app; a second Ctrl-C or a closed terminal does not cut it short.
stopOnSignals(() => server.close(), app.logger)

const address = await server.listen({ port: config.port, host: config.host })
console.log(`game listening on ${address}`)
