import { DEVELOPMENT_WHEN_UNSET, developmentWhenUnset, loadShopConfig } from './config.js'
import { developmentSecretsIn } from './secrets/index.js'
import { buildShop } from './server.js'

const development = developmentWhenUnset()
const config = loadShopConfig()
const { app, server } = await buildShop(config)
if (development) app.logger.warn(DEVELOPMENT_WHEN_UNSET)
const developmentSecrets = developmentSecretsIn(config)
if (developmentSecrets.length > 0) {
  app.logger.warn(
    { variables: developmentSecrets },
    'shop: using public development secrets; set these variables (refused when NODE_ENV=production)',
  )
}

let closing = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) return
  closing = true
  app.logger.info({ signal }, 'shop: shutting down')
  try {
    await server.close()
    process.exit(0)
  } catch (error) {
    app.logger.error({ err: error }, 'shop: shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)

const address = await server.listen({ port: config.port, host: config.host })
console.log(`shop listening on ${address}: the storefront is ${address}/store`)
if (developmentSecrets.includes('ADMIN_PASSWORD')) {
  // Public anyway (it is in the source); printed so a fresh clone can reach the admin pages.
  console.log(
    `admin pages: ${address}/admin, log in as ${config.adminEmail} / ${config.adminPassword.reveal()}`,
  )
}
