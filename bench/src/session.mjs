// Session read + save: @mortar/session against raw iron-session doing the same work, as direct
// calls on a fake request in one process (no HTTP server: its cost would be the same for both
// and only add noise). Each iteration reads the session from a cookie, changes one field and
// saves it, which unseals and seals once. Mortar's iteration is what an HTTP adapter runs: a
// request context with an HTTP exchange, the request-start hooks (load, registry lookup, CSRF,
// principal), then the handler. With Redis reachable it also measures the Redis registry, where
// every request of a logged-in session costs one registry lookup.
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { createApp, RequestContext, runInRequestContext, runRequestStartHooks } from '@mortar/core'
import {
  MemorySessionRegistry,
  redisSessionRegistry,
  session,
  sessionModule,
} from '@mortar/session'
import { getIronSession, sealData } from 'iron-session'
import { z } from 'zod'

const PASSWORD = 'bench-0123456789abcdef0123456789abcdef'
// Many short interleaved rounds, then the median: robust against other load on the machine.
const ITERATIONS = Number(process.env.BENCH_SESSION_ITERATIONS ?? 400)
const ROUNDS = Number(process.env.BENCH_SESSION_ROUNDS ?? 15)
const REDIS_URL = process.env.MORTAR_TEST_REDIS_URL ?? process.env.BENCH_REDIS_URL
const silent = () => undefined
const logger = {
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
  fatal: silent,
}
logger.child = () => logger

/** Raw iron-session: getIronSession on a cookie store, change, save. */
async function ironVariant() {
  const options = { password: PASSWORD, cookieName: 'iron', cookieOptions: { secure: false } }
  let cookie = await sealData({ visits: 0, cart: ['sku-1'] }, { password: PASSWORD })
  const store = {
    get: (name) => (name === 'iron' ? { name, value: cookie } : undefined),
    set: (_name, value) => {
      cookie = value
    },
  }
  return {
    name: 'iron-session',
    async once() {
      const ironSession = await getIronSession(store, options)
      ironSession.visits = (ironSession.visits ?? 0) + 1
      await ironSession.save()
    },
    async stop() {},
  }
}

/** @mortar/session through the same path an adapter takes; `registry` decides the variant. */
async function mortarVariant(name, registry) {
  const schema = z.object({ visits: z.number().default(0), cart: z.array(z.string()).default([]) })
  const prefix = `mortar-bench-${process.pid}:`
  const modules = []
  if (registry === 'redis') {
    modules.push(redisSessionRegistry({ url: REDIS_URL, prefix }))
  }
  modules.push(
    sessionModule({
      password: PASSWORD,
      schema,
      development: true,
      registry: registry === 'redis' ? 'redis' : registry,
      resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
    }),
  )
  const app = createApp({ modules, logger })
  await app.start()
  let cookie
  const request = async (handler) => {
    const headers = cookie ? { cookie: `mortar.session=${cookie}` } : {}
    const context = new RequestContext({
      http: {
        method: 'GET',
        url: '/',
        header: (key) => headers[key],
        appendResponseHeader: (key, value) => {
          if (key === 'set-cookie') cookie = value.slice(value.indexOf('=') + 1, value.indexOf(';'))
        },
      },
      createScope: () => app.createScope(),
    })
    await runInRequestContext(context, async () => {
      await runRequestStartHooks(app, context)
      await handler()
    })
  }
  await request(async () => {
    session().data.cart = ['sku-1']
    if (registry !== undefined) await session().login('user-1')
    else await session().save()
  })
  return {
    name,
    async once() {
      await request(async () => {
        const current = session()
        current.data.visits += 1
        await current.save()
      })
    },
    async stop() {
      await app.stop()
      if (registry === 'redis') {
        // Leave nothing behind: every key of this run starts with its private prefix.
        const { Redis } = await import('ioredis')
        const client = new Redis(REDIS_URL)
        const keys = await client.keys(`${prefix}*`)
        if (keys.length > 0) await client.del(...keys)
        await client.quit()
      }
    },
  }
}

async function measure(variant, iterations) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let i = 0; i < iterations; i += 1) await variant.once()
  const wall = ((performance.now() - started) * 1000) / iterations
  const used = process.cpuUsage(cpu)
  // CPU time counts the crypto threads too, and moves much less than wall time when the machine is busy.
  return { wall, cpu: (used.user + used.system) / iterations } // µs per request
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

export async function run() {
  console.log(
    `session: read + save one session, ${ITERATIONS} requests x ${ROUNDS} rounds per variant`,
  )
  const variants = [
    await ironVariant(),
    await mortarVariant('mortar, no registry', undefined),
    await mortarVariant('mortar, memory registry', new MemorySessionRegistry()),
  ]
  if (REDIS_URL) variants.push(await mortarVariant('mortar, Redis registry', 'redis'))
  else console.log('  (Redis registry skipped: set MORTAR_TEST_REDIS_URL to include it)')
  try {
    for (const variant of variants) await measure(variant, Math.ceil(ITERATIONS / 3)) // warm-up
    // Interleaved request by request, so a burst of other load hits every variant alike.
    const times = new Map(variants.map((variant) => [variant.name, { wall: [], cpu: [] }]))
    for (let round = 0; round < ROUNDS; round += 1) {
      const sums = new Map(variants.map((variant) => [variant.name, { wall: 0, cpu: 0 }]))
      for (let i = 0; i < ITERATIONS; i += 1) {
        const order = (round + i) % 2 === 0 ? variants : [...variants].reverse()
        for (const variant of order) {
          const { wall, cpu } = await measure(variant, 1)
          sums.get(variant.name).wall += wall
          sums.get(variant.name).cpu += cpu
        }
      }
      for (const [name, sum] of sums) {
        times.get(name).wall.push(sum.wall / ITERATIONS)
        times.get(name).cpu.push(sum.cpu / ITERATIONS)
      }
    }
    const base = times.get('iron-session')
    const [baseWall, baseCpu] = [median(base.wall), median(base.cpu)]
    for (const variant of variants) {
      const { wall, cpu } = times.get(variant.name)
      const [w, c] = [median(wall), median(cpu)]
      console.log(
        `  ${variant.name.padEnd(26)} wall ${w.toFixed(0).padStart(5)} µs ${(w / baseWall).toFixed(2)}x   cpu ${c.toFixed(0).padStart(5)} µs ${(c / baseCpu).toFixed(2)}x`,
      )
    }
    console.log('  goals: no registry <= 1.10x, Redis registry <= 1.30x of raw iron-session')
  } finally {
    for (const variant of variants) await variant.stop()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
