// The server under test of http-fastify.mjs: a hello route on
// - `bare`: Fastify alone;
// - `loaded`: Fastify with @mortar/core imported and an app started, but no adapter (what loading
//   the package costs by itself);
// - `mortar`: Fastify through Mortar's adapter (request context, lazy scope, problem+json errors).
import Fastify from 'fastify'
import { ready } from './serve-child.mjs'

const variant = process.argv[2]
if (!['bare', 'loaded', 'mortar'].includes(variant)) {
  throw new Error(`Unknown variant '${variant}'; use bare, loaded or mortar.`)
}
const fastify = Fastify({ logger: false })

if (variant !== 'bare') {
  const { createApp } = await import('@mortar/core')
  const app = createApp({ modules: [] })
  await app.start()
  if (variant === 'mortar') {
    const { mortarFastify } = await import('@mortar/core/fastify')
    await fastify.register(mortarFastify, { app })
  }
}

fastify.get('/', async () => ({ hello: 'world' }))

await fastify.listen({ port: 0, host: '127.0.0.1' })
ready(fastify.server.address().port, () => fastify.close())
