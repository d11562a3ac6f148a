// The shop end to end. Product page: `GET /store/products/:id` for a visitor with a cart in their
// session cookie (session read, the catalog's policy check, the product query, "also bought"
// from the analytics rollups, two track() calls, the page rendered) through examples/shop
// against the same page written by hand on Fastify + Kysely + iron-session (shop-server.mjs),
// in interleaved rounds. Goal: mortar >= 0.9x by hand. Checkout: `POST /orders` through the shop
// (order, lines, stock, the confirmation's ledger rows and jobs, the purchase tracked, in one
// transaction; the workers sending the mail in the same process), on SQLite and, with
// MORTAR_TEST_POSTGRES_URL (or BENCH_POSTGRES_URL) set, PostgreSQL.
import { randomBytes } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Database } from '@mortar/core'
import autocannon from 'autocannon'
import { sql } from 'kysely'
import { sealData } from 'iron-session'
import { compareServers, formatRate, privateDatabase, settings, startServer } from './measure.mjs'

const server = fileURLToPath(new URL('./shop-server.mjs', import.meta.url))
const SESSION_PASSWORD = 'DEVELOPMENT-ONLY shop session password, public!'
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? process.env.MORTAR_TEST_POSTGRES_URL
const PRODUCT = 42
const CHECKOUT_SECONDS = Number(process.env.BENCH_CHECKOUT_DURATION ?? 5)
const CHECKOUT_CLIENTS = Number(process.env.BENCH_CHECKOUT_CLIENTS ?? 16)

/**
 * Migrates and seeds the shop's database, then gives the product page something to recommend:
 * 40 buyers of PRODUCT with one of 8 others each, rolled up.
 */
async function prepare(url) {
  const { buildShop, loadShopConfig } = await import('../../examples/shop/dist/index.js')
  const { ANALYTICS } = await import('@mortar/analytics')
  process.env.LOG_LEVEL ??= 'warn'
  // The shop as `npm start` runs it: development, on its public development defaults.
  process.env.NODE_ENV ??= 'development'
  const shop = await buildShop(
    loadShopConfig({
      NODE_ENV: 'development',
      DATABASE_URL: url,
      PASSWORD_HASH_LOG_N: '10',
      PORT: '0',
    }),
  )
  const analytics = shop.app.resolve(ANALYTICS)
  for (let buyer = 0; buyer < 40; buyer += 1) {
    await analytics.trackNow(
      'order_completed',
      {
        orderId: crypto.randomUUID(),
        productIds: [String(PRODUCT), String(100 + (buyer % 8))],
        total: 1000,
      },
      { userId: `bench-buyer-${buyer}` },
    )
  }
  await analytics.rollup()
  await shop.server.close()
}

async function productPage() {
  const db = await privateDatabase('sqlite')
  try {
    await prepare(db.url)
    const mortar = await startServer(server, ['mortar', db.url])
    const byhand = await startServer(server, ['byhand', db.url])
    try {
      // A visitor with one product in the cart: Mortar's cookie from the shop itself, the
      // hand-written one sealed by iron-session with what Mortar's session holds.
      const added = await fetch(`${mortar.url}/cart`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ productId: 7 }),
      })
      const mortarCookie = (added.headers.get('set-cookie') ?? '').split(';')[0]
      const handCookie = `shop.session=${await sealData(
        {
          cart: [{ productId: 7, quantity: 1 }],
          csrfToken: randomBytes(16).toString('base64url'),
          id: randomBytes(16).toString('base64url'),
          createdAt: Date.now(),
          issuedAt: Date.now(),
        },
        { password: SESSION_PASSWORD },
      )}`
      const variants = [
        { name: 'byhand', headers: { cookie: handCookie }, ...byhand },
        { name: 'mortar', headers: { cookie: mortarCookie }, ...mortar },
      ].map((variant) => ({ ...variant, url: `${variant.url}/store/products/${PRODUCT}` }))
      for (const variant of variants) {
        const page = await (await fetch(variant.url, { headers: variant.headers })).text()
        if (!page.includes('also bought'))
          throw new Error(`${variant.name}: no "also bought" on the page`)
      }
      const { byhand: hand, mortar: ours } = await compareServers(variants)
      const ratio = ours.ratioToFirst
      const cpuRatio = hand.cpuPerRequest / ours.cpuPerRequest
      console.log(
        `  product page, by hand (Fastify + Kysely + iron-session) ${formatRate(hand.rate).padStart(14)}   ${hand.cpuPerRequest.toFixed(0)} µs CPU/request`,
      )
      console.log(
        `  product page, examples/shop (Mortar)                    ${formatRate(ours.rate).padStart(14)}   ${ours.cpuPerRequest.toFixed(0)} µs CPU/request`,
      )
      console.log(
        `  ratio mortar/by hand ${ratio.toFixed(3)} by req/s (median of per-round ratios), ${cpuRatio.toFixed(3)} by CPU per request (goal >= 0.9)`,
      )
      return { byhand: hand.rate, mortar: ours.rate, ratio, cpuRatio }
    } finally {
      await Promise.all([mortar.stop(), byhand.stop()])
    }
  } finally {
    await db.drop()
  }
}

async function checkout(engine) {
  const db = await privateDatabase(engine, POSTGRES_URL)
  try {
    await prepare(db.url)
    const shop = await startServer(server, ['mortar', db.url])
    try {
      const headers = { 'content-type': 'application/json', origin: shop.url }
      // Shoppers with a card and one product each in the cart. The client keeps sending the
      // cookie from before the checkout, whose cart still holds the product, so every request
      // places a new order; stock is set high enough for all of them.
      const clients = []
      for (let index = 0; index < CHECKOUT_CLIENTS; index += 1) {
        let cookie = ''
        const call = async (method, path, body) => {
          const response = await fetch(`${shop.url}${path}`, {
            method,
            headers: { ...headers, cookie },
            body: JSON.stringify(body),
          })
          const set = response.headers.get('set-cookie')
          if (set) cookie = set.split(';')[0]
          if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
          return response.json()
        }
        await call('POST', '/auth/signup', {
          email: `bench-${index}@example.com`,
          password: 'correct horse battery',
        })
        const card = await call('POST', '/payment-methods', {
          token: `tok_bench_${index}`,
          last4: '4242',
          brand: 'visa',
        })
        await call('POST', '/cart', { productId: 1000 + index })
        clients.push({ cookie, body: JSON.stringify({ paymentMethodId: card.id }) })
      }
      await setStock(db.url, CHECKOUT_CLIENTS)
      let next = 0
      const result = await autocannon({
        url: `${shop.url}/orders`,
        method: 'POST',
        connections: CHECKOUT_CLIENTS,
        duration: CHECKOUT_SECONDS,
        setupClient(client) {
          const mine = clients[next++ % clients.length]
          client.setHeadersAndBody({ ...headers, cookie: mine.cookie }, mine.body)
        },
      })
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`checkout: ${result.non2xx} non-2xx responses and ${result.errors} errors`)
      }
      const label = engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'
      console.log(
        `  checkout on ${label.padEnd(10)} ${formatRate(result.requests.average).padStart(14)}   p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${CHECKOUT_CLIENTS} clients`,
      )
      return result.requests.average
    } finally {
      await shop.stop()
    }
  } finally {
    await db.drop()
  }
}

async function setStock(url, clients) {
  const database = new Database(url)
  await database.connect()
  try {
    await sql`update products set stock = 1000000000 where id >= 1000 and id < ${1000 + clients}`.execute(
      database.root,
    )
  } finally {
    await database.destroy()
  }
}

/** Runs the bench and prints both product page rates, their ratio, and checkout rates. */
export async function run() {
  console.log(
    `shop: GET /store/products/${PRODUCT} (visitor with a cart), ${settings.connections} connections, ` +
      `${settings.rounds} rounds x ${settings.durationSeconds} s after a ${settings.warmupSeconds} s warm-up; ` +
      `POST /orders for ${CHECKOUT_SECONDS} s`,
  )
  const page = await productPage()
  const sqlite = await checkout('sqlite')
  const postgres = POSTGRES_URL ? await checkout('postgres') : undefined
  if (!POSTGRES_URL)
    console.log('  checkout on PostgreSQL skipped: MORTAR_TEST_POSTGRES_URL is unset')
  return { bench: 'shop', ...page, checkoutSqlite: sqlite, checkoutPostgres: postgres }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run()
