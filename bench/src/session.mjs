// Session read + save: @mortar/session against raw iron-session doing the same work, as direct
// calls on a fake request in one process (no HTTP server: its cost would be the same for both
// and only add noise). Each iteration reads the session from a Cookie header, changes one field
// and saves it (one unseal, one seal, one Set-Cookie), on both sides. Mortar's iteration is what
// an HTTP adapter runs: a request context with an HTTP exchange, the request-start hooks (load,
// registry lookup, CSRF, principal), the handler, then the before-response hook that sets the
// cookie; raw iron-session's is getIronSession on node:http's req/res with a session holding the
// same fields as Mortar's sealed envelope. Two phases: one request at a time, then many clients
// in flight (as a server sees them). With Redis reachable it also measures the Redis registry,
// where every request of a logged-in session costs one registry lookup, and raw iron-session with that same lookup written by hand.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import {
  createApp,
  RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
  runRequestStartHooks,
} from '@mortar/core'
import {
  MemorySessionRegistry,
  redisSessionRegistry,
  session,
  sessionModule,
} from '@mortar/session'
import { getIronSession, sealData, unsealData } from 'iron-session'
import { z } from 'zod'

const PASSWORD = 'bench-0123456789abcdef0123456789abcdef'
// Many short interleaved rounds, then the median: robust against other load on the machine.
const ITERATIONS = Number(process.env.BENCH_SESSION_ITERATIONS ?? 400)
const ROUNDS = Number(process.env.BENCH_SESSION_ROUNDS ?? 15)
// The concurrent phase: this many virtual clients, each with its own session, keep a request in
// flight, as a server sees them; each round runs every variant for CONCURRENT_REQUESTS per client.
const CLIENTS = Number(process.env.BENCH_SESSION_CLIENTS ?? 32)
const CONCURRENT_REQUESTS = Number(process.env.BENCH_SESSION_CONCURRENT_REQUESTS ?? 2)
const CONCURRENT_ROUNDS = Number(process.env.BENCH_SESSION_CONCURRENT_ROUNDS ?? 101)
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

// The registry variants log a session in; each virtual client has its own cookie (and, when
// logged in, its own registry record), so concurrent requests never share a session.
const LOGGED_IN = new Set(['memory', 'redis'])

/**
 * Raw iron-session on node:http's request and response (what an Express or Fastify app without
 * Mortar writes): parse the Cookie header, unseal, change, seal, serialize Set-Cookie. `fields`
 * picks what the session holds: 'bare' is the app data alone; 'anonymous' and 'logged-in' also
 * hold what Mortar's sealed envelope carries for the same job (a session id for revocation, a
 * CSRF token, created/issued times for the absolute and idle expiry, and the user id), so the
 * goal ratios compare cookies of the same content and size.
 */
async function ironVariant(name, fields, clients) {
  const options = { password: PASSWORD, cookieName: 'iron', cookieOptions: { secure: false } }
  const cookies = []
  for (let j = 0; j < clients; j += 1) {
    const now = Date.now()
    const data = { visits: 0, cart: ['sku-1'] }
    if (fields !== 'bare') {
      Object.assign(data, {
        id: randomBytes(16).toString('base64url'),
        createdAt: now,
        issuedAt: now,
        csrfToken: randomBytes(16).toString('base64url'),
      })
      if (fields === 'logged-in') data.userId = `user-${j}`
    }
    cookies.push(await sealData(data, { password: PASSWORD }))
  }
  return {
    name,
    cookie: (j) => cookies[j],
    async once(j = 0, check = undefined) {
      const req = { headers: { cookie: `iron=${cookies[j]}` } }
      const headers = new Map()
      const res = {
        headersSent: false,
        getHeader: (key) => headers.get(key),
        setHeader: (key, value) => headers.set(key, value),
      }
      const ironSession = await getIronSession(req, res, options)
      if (check !== undefined) await check(ironSession)
      ironSession.visits = (ironSession.visits ?? 0) + 1
      if (fields !== 'bare') ironSession.issuedAt = Date.now()
      await ironSession.save()
      cookies[j] = cookieValue(headers.get('set-cookie')[0])
    },
    async stop() {},
  }
}

/**
 * Raw iron-session plus the registry check written by hand: the Redis variant's work without
 * Mortar. One HGETALL of a hash holding the same record, sent before unsealing as Mortar does,
 * and the session refused unless the record names the cookie's user.
 */
async function ironRedisVariant(name, clients) {
  const { Redis } = await import('ioredis')
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  const prefix = `iron-bench-${process.pid}:`
  const iron = await ironVariant(name, 'logged-in', clients)
  const ids = []
  for (let j = 0; j < clients; j += 1) {
    const { id } = await unsealData(iron.cookie(j), { password: PASSWORD })
    const now = String(Date.now())
    await client.hset(`${prefix}${id}`, {
      userId: `user-${j}`,
      createdAt: now,
      lastSeenAt: now,
      ip: '127.0.0.1',
      userAgent: 'bench',
    })
    ids.push(id)
  }
  return {
    name,
    async once(j = 0) {
      const found = client.hgetall(`${prefix}${ids[j]}`)
      await iron.once(j, async (ironSession) => {
        const record = await found
        if (record.userId !== ironSession.userId) throw new Error('revoked')
      })
    },
    async stop() {
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
      await client.quit()
    },
  }
}

/** @mortar/session through the same path an adapter takes; `registry` decides the variant. */
async function mortarVariant(name, registry, clients) {
  const schema = z.object({ visits: z.number().default(0), cart: z.array(z.string()).default([]) })
  const prefix = `mortar-bench-${process.pid}:`
  const modules = []
  if (registry === 'redis') {
    modules.push(redisSessionRegistry())
  }
  modules.push(
    sessionModule({
      cookieName: 'bench.session',
      password: PASSWORD,
      schema,
      development: true,
      registry: registry === 'memory' ? new MemorySessionRegistry() : registry,
      resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
    }),
  )
  const app = createApp({
    modules,
    logger,
    ...(registry === 'redis' ? { redis: { url: REDIS_URL, prefix } } : {}),
  })
  await app.start()
  const cookies = []
  const request = async (j, handler) => {
    const headers = cookies[j] ? { cookie: `bench.session=${cookies[j]}` } : {}
    const context = new RequestContext({
      http: {
        method: 'GET',
        url: '/',
        header: (key) => headers[key],
        appendResponseHeader: (key, value) => {
          if (key === 'set-cookie') cookies[j] = cookieValue(value)
        },
      },
      createScope: () => app.createScope(),
    })
    await runInRequestContext(context, async () => {
      await runRequestStartHooks(app, context)
      await handler()
      // Where the session sets its cookie, once, before the response leaves.
      await runBeforeResponseHooks(app, context)
    })
  }
  for (let j = 0; j < clients; j += 1) {
    await request(j, async () => {
      session().data.cart = ['sku-1']
      if (LOGGED_IN.has(registry)) await session().login(`user-${j}`)
      else await session().save()
    })
  }
  return {
    name,
    async once(j = 0) {
      await request(j, async () => {
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

/** The value of a `Set-Cookie` header: what a browser sends back. */
function cookieValue(setCookie) {
  return setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'))
}

/** Runs `requests` requests per client with `clients` in flight; µs of wall and CPU per request. */
async function measure(variant, { clients = 1, requests = 1 } = {}) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  if (clients === 1) {
    for (let i = 0; i < requests; i += 1) await variant.once(0)
  } else {
    const client = async (j) => {
      for (let i = 0; i < requests; i += 1) await variant.once(j)
    }
    await Promise.all(Array.from({ length: clients }, (_, j) => client(j)))
  }
  const count = clients * requests
  const wall = ((performance.now() - started) * 1000) / count
  const used = process.cpuUsage(cpu)
  // CPU time counts the crypto threads too, and moves much less than wall time when the machine is busy.
  return { wall, cpu: (used.user + used.system) / count }
}

// A seeded shuffle (mulberry32): the same orders on every run.
let seed = 0x5e55
function random() {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

function shuffled(values) {
  const copy = [...values]
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/**
 * Interleaved rounds: each step runs every variant once, in a fresh random order, so a burst of
 * other load hits every variant alike and no variant always follows the same neighbour (one that
 * runs right after a Redis round trip starts with colder caches). Resolves, by variant name, to the
 * per-round means (µs per request).
 */
async function rounds(variants, { rounds, steps, shape }) {
  const times = new Map(variants.map((variant) => [variant.name, { wall: [], cpu: [] }]))
  for (let round = 0; round < rounds; round += 1) {
    const sums = new Map(variants.map((variant) => [variant.name, { wall: 0, cpu: 0 }]))
    for (let i = 0; i < steps; i += 1) {
      const order = shuffled(variants)
      for (const variant of order) {
        const { wall, cpu } = await measure(variant, shape)
        sums.get(variant.name).wall += wall
        sums.get(variant.name).cpu += cpu
      }
    }
    for (const [name, sum] of sums) {
      times.get(name).wall.push(sum.wall / steps)
      times.get(name).cpu.push(sum.cpu / steps)
    }
  }
  return times
}

function report(title, variants, times) {
  console.log(`  ${title}`)
  const ratio = (name, baseline, kind) =>
    median(times.get(name)[kind].map((value, round) => value / times.get(baseline)[kind][round]))
  for (const variant of variants) {
    const { wall, cpu } = times.get(variant.name)
    let line = `    ${variant.name.padEnd(36)} wall ${median(wall).toFixed(0).padStart(5)} µs   cpu ${median(cpu).toFixed(0).padStart(5)} µs`
    // A ratio is the median of per-round ratios: both sides of a round ran interleaved, under the
    // same outside load, so the ratio moves much less than either time.
    for (const baseline of variant.baselines ?? []) {
      line += `\n      against ${baseline.padEnd(34)} wall ${ratio(variant.name, baseline, 'wall').toFixed(2)}x   cpu ${ratio(variant.name, baseline, 'cpu').toFixed(2)}x`
    }
    console.log(line)
  }
}

export async function run() {
  console.log(
    `session: read + save one session; sequential: ${ITERATIONS} requests x ${ROUNDS} rounds per variant; concurrent: ${CLIENTS} clients in flight x ${CONCURRENT_REQUESTS} requests x ${CONCURRENT_ROUNDS} rounds`,
  )
  const anonymous = 'iron-session, same fields'
  const loggedIn = 'iron-session, same fields, logged in'
  const byHand = 'iron-session + HGETALL by hand'
  const variants = [
    {
      ...(await ironVariant('iron-session, bare data', 'bare', CLIENTS)),
      baselines: [anonymous],
    },
    await ironVariant(anonymous, 'anonymous', CLIENTS),
    await ironVariant(loggedIn, 'logged-in', CLIENTS),
    {
      ...(await mortarVariant('mortar, no registry', undefined, CLIENTS)),
      baselines: [anonymous],
    },
    {
      ...(await mortarVariant('mortar, memory registry', 'memory', CLIENTS)),
      baselines: [loggedIn],
    },
  ]
  if (REDIS_URL) {
    variants.push(
      { ...(await ironRedisVariant(byHand, CLIENTS)), baselines: [loggedIn] },
      {
        ...(await mortarVariant('mortar, Redis registry', 'redis', CLIENTS)),
        baselines: [loggedIn, byHand],
      },
    )
  } else console.log('  (Redis registry skipped: set MORTAR_TEST_REDIS_URL to include it)')
  try {
    for (const variant of variants) await measure(variant, { requests: Math.ceil(ITERATIONS / 3) }) // warm-up
    report(
      'sequential: one request at a time',
      variants,
      await rounds(variants, { rounds: ROUNDS, steps: ITERATIONS, shape: { requests: 1 } }),
    )
    if (CLIENTS > 1) {
      report(
        `concurrent: ${CLIENTS} requests in flight, each client its own session`,
        variants,
        await rounds(variants, {
          rounds: CONCURRENT_ROUNDS,
          steps: 1,
          shape: { clients: CLIENTS, requests: CONCURRENT_REQUESTS },
        }),
      )
    }
    console.log('  goals: no registry <= 1.10x, Redis registry <= 1.30x of raw iron-session')
  } finally {
    for (const variant of variants) await variant.stop()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
