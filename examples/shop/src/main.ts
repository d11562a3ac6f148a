import { stopOnSignals } from '@mortar/core'
import { loadShopConfig } from './config.js'
import { developmentSecretsIn } from './secrets/index.js'
import { buildShop } from './server.js'

const config = loadShopConfig()
const { app, server } = await buildShop(config)
const developmentSecrets = developmentSecretsIn(config)
if (developmentSecrets.length > 0) {
  app.logger.warn(
    { variables: developmentSecrets },
    'shop: using public development secrets; set these variables (refused unless NODE_ENV is development or test)',
  )
}

// The server closes, then the app, which writes the buffered analytics events.
stopOnSignals(() => server.close(), app.logger)

const address = await server.listen({ port: config.port, host: config.host })
console.log(`shop listening on ${address}: the storefront is ${address}/store`)
if (developmentSecrets.includes('ADMIN_PASSWORD')) {
  // Public anyway (it is in the source); printed so a fresh clone can reach the admin pages.
  console.log(
    `admin pages: ${address}/admin, log in as ${config.adminEmail} / ${config.adminPassword.reveal()}`,
  )
}
