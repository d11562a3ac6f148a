// The server under test of http-fastify.mjs: a hello route on
// - `bare`: Fastify alone;
// - `loaded`: Fastify with @mortar/core imported and an app started, but no adapter (what loading
//   the package costs by itself);
// - `byhand`: Fastify with what a team would write by hand for the same behaviour: an
//   AsyncLocalStorage context per request and an echoed or generated x-request-id;
// - `mortar`: Fastify through Mortar's adapter (request context, lazy scope, problem+json errors).
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { ready } from './serve-child.mjs'

const variant = process.argv[2]
if (!['bare', 'loaded', 'byhand', 'mortar'].includes(variant)) {
  throw new Error(`Unknown variant '${variant}'; use bare, loaded, byhand or mortar.`)
}
const fastify = Fastify({ logger: false })

if (variant === 'loaded' || variant === 'mortar') {
  const { createApp } = await import('@mortar/core')
  const app = createApp({ modules: [] })
  await app.start()
  if (variant === 'mortar') {
    const { mortarFastify } = await import('@mortar/core/fastify')
    await fastify.register(mortarFastify, { app })
  }
}

if (variant === 'byhand') {
  const storage = new AsyncLocalStorage()
  fastify.addHook('onRequest', (request, reply, done) => {
    const echoed = request.headers['x-request-id']
    const requestId =
      typeof echoed === 'string' && /^[\w.:-]{1,128}$/.test(echoed) ? echoed : randomUUID()
    reply.header('x-request-id', requestId)
    storage.run({ requestId }, done)
  })
}

fastify.get('/', async () => ({ hello: 'world' }))

await fastify.listen({ port: 0, host: '127.0.0.1' })
ready(fastify.server.address().port, () => fastify.close())
