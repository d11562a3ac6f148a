import { loadGameConfig } from './config.js'
import { buildGame } from './server.js'

const config = loadGameConfig()
const { app, server } = await buildGame(config)

let closing = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) return
  closing = true
  app.logger.info({ signal }, 'game: shutting down')
  try {
    await server.close()
    process.exit(0)
  } catch (error) {
    app.logger.error({ err: error }, 'game: shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)

const address = await server.listen({ port: config.port, host: config.host })
console.log(`game listening on ${address}`)
