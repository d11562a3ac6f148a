// The product page of the shop, served two ways for shop.mjs, in a child process:
//
// - mortar: examples/shop itself (its built dist), `GET /store/products/:id`.
// - byhand: the same page written by hand on Fastify + Kysely + iron-session, with the same
//   queries: the session cookie unsealed, the catalog's read rule checked, the product read, the
//   "also bought" pairs read from the analytics rollups (the two queries @mortar/analytics runs)
//   and their products, two events (the view and the page view) put in a bounded buffer that a
//   timer writes in multi-row inserts, and the page rendered with every value escaped.
//
// Usage: node shop-server.mjs mortar|byhand <database-url>
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { getIronSession } from 'iron-session'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { ready } from './serve-child.mjs'

process.env.LOG_LEVEL ??= 'warn'
// The shop as `npm start` runs it: development, on its public development defaults.
process.env.NODE_ENV ??= 'development'
const [variant, databaseUrl] = process.argv.slice(2)
if (!databaseUrl) throw new Error('usage: node shop-server.mjs mortar|byhand <database-url>')

// The shop's development session password; shop.mjs seals the by-hand cookie with it too.
const SESSION_PASSWORD = 'DEVELOPMENT-ONLY shop session password, public!'

if (variant === 'mortar') {
  const { buildShop, loadShopConfig } = await import('../../examples/shop/dist/index.js')
  const shop = await buildShop(
    loadShopConfig({
      NODE_ENV: 'development',
      DATABASE_URL: databaseUrl,
      PASSWORD_HASH_LOG_N: '10',
      PORT: '0',
    }),
  )
  await shop.server.listen({ port: 0, host: '127.0.0.1' })
  ready(shop.server.server.address().port, () => shop.server.close())
} else if (variant === 'byhand') {
  const db = await openKysely(databaseUrl)
  await db.schema
    .createTable('bench_events')
    .ifNotExists()
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('anonymous_id', 'varchar(64)')
    .addColumn('properties', 'text', (c) => c.notNull())
    .execute()
  const events = eventBuffer(db)
  const salt = randomBytes(16).toString('hex')
  const server = Fastify()
  server.get('/store/products/:id', async (request, reply) => {
    const session = await getIronSession(request.raw, reply.raw, {
      password: SESSION_PASSWORD,
      cookieName: 'shop.session',
      cookieOptions: { secure: false, sameSite: 'lax', httpOnly: true },
    })
    const id = Number(request.params.id)
    // The catalog's rule: anyone reads products; a malformed id is a missing product.
    const product = Number.isSafeInteger(id)
      ? await db
          .selectFrom('products')
          .select(['id', 'name', 'description', 'price_cents', 'stock'])
          .where('id', '=', id)
          .executeTakeFirst()
      : undefined
    if (product === undefined) return reply.code(404).send({ title: 'Not Found' })
    const also = await alsoBought(db, String(product.id))
    const anonymousId = createHash('sha256')
      .update(`${salt}|${request.ip}|${request.headers['user-agent'] ?? ''}`)
      .digest('hex')
    const now = Date.now()
    const pageViewId = randomUUID()
    events.push({
      id: randomUUID(),
      name: 'product_viewed',
      occurred_at: now,
      anonymous_id: anonymousId,
      properties: JSON.stringify({ productId: String(product.id) }),
    })
    events.push({
      id: pageViewId,
      name: '$page',
      occurred_at: now,
      anonymous_id: anonymousId,
      properties: JSON.stringify({ path: request.url }),
    })
    const cart = Array.isArray(session.cart) ? session.cart : []
    const units = cart.reduce((sum, line) => sum + line.quantity, 0)
    return reply
      .type('text/html; charset=utf-8')
      .send(page(product, also, units, session.csrfToken ?? '', pageViewId))
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  ready(server.server.address().port, async () => {
    await server.close()
    await events.close()
    await db.destroy()
  })
} else {
  throw new Error(`unknown variant ${variant}`)
}

async function openKysely(url) {
  if (url.startsWith('sqlite:')) {
    const { NodeSqliteDialect } = await import('@mortar/core')
    return new Kysely({ dialect: new NodeSqliteDialect({ filename: url.slice('sqlite:'.length) }) })
  }
  const { default: pg } = await import('pg')
  return new Kysely({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }),
  })
}

// "Also bought" as @mortar/analytics reads it: the item's ranked list from the rollups (the
// same statement), scored by cosine similarity, then those products.
async function alsoBought(db, item) {
  const ranked =
    await sql`select a.other, a.together, a.units, (select units from mortar_analytics_item where kind = ${'bought'} and item = ${item}) as own from mortar_analytics_also a where a.kind = ${'bought'} and a.item = ${item} and a.other not in (${item}) order by a.place limit 4`.execute(
      db,
    )
  if (ranked.rows.length === 0) return []
  const own = Number(ranked.rows[0].own ?? 0)
  const items = ranked.rows.map((row) => ({
    item: row.other,
    score: Number(row.together) / Math.sqrt(own * Number(row.units)),
  }))
  const rows = await db
    .selectFrom('products')
    .select(['id', 'name', 'description', 'price_cents', 'stock'])
    .where(
      'id',
      'in',
      items.map((entry) => Number(entry.item)),
    )
    .execute()
  const byId = new Map(rows.map((row) => [String(row.id), row]))
  return items.flatMap((entry) => byId.get(entry.item) ?? [])
}

// A bounded buffer written every second (or at 500 events) in one multi-row insert.
function eventBuffer(db) {
  let queue = []
  let writing = Promise.resolve()
  const flush = () => {
    if (queue.length === 0) return writing
    const batch = queue
    queue = []
    writing = writing
      .then(() => db.insertInto('bench_events').values(batch).execute())
      .catch(() => undefined)
    return writing
  }
  const timer = setInterval(flush, 1_000)
  timer.unref()
  return {
    push(event) {
      if (queue.length >= 10_000) queue.shift()
      queue.push(event)
      if (queue.length >= 500) flush()
    },
    async close() {
      clearInterval(timer)
      await flush()
    },
  }
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (char) => ESCAPES[char])
const money = (cents) => `$${(cents / 100).toFixed(2)}`

// The same HTML as the shop's product page, byte for byte but for the tokens and ids.
function stock(product) {
  return product.stock === 0
    ? '<span class="sold-out">Sold out</span>'
    : `<span class="muted">${product.stock} in stock</span>`
}

function addToCart(product, csrf, withQuantity) {
  if (product.stock === 0) return ''
  const options = Array.from(
    { length: Math.min(product.stock, 10) },
    (_, index) => `<option>${index + 1}</option>`,
  ).join('')
  return `<form method="post" action="/store/cart" class="row">
    <input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
    <input type="hidden" name="productId" value="${product.id}">
    ${
      withQuantity
        ? `<label class="row">Quantity <select name="quantity">${options}</select></label>`
        : '<input type="hidden" name="quantity" value="1">'
    }
    <button>Add to cart</button>
  </form>`
}

function card(product, csrf) {
  return `<li class="card">
    <h2><a href="/store/products/${product.id}">${escapeHtml(product.name)}</a></h2>
    <p><span class="price">${money(product.price_cents)}</span> · ${stock(product)}</p>
    ${addToCart(product, csrf, false)}
  </li>`
}

function page(product, also, units, csrf, pageViewId) {
  const name = escapeHtml(product.name)
  const recommendations =
    also.length === 0
      ? ''
      : `<section><h2>Customers who bought this also bought</h2>
              <ul class="grid" id="also-bought">${also.map((other) => card(other, csrf)).join('')}</ul></section>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name} · Mortar Shop</title>
<link rel="stylesheet" href="/store/assets/shop.css">
<script src="/store/assets/shop.js" defer></script>
</head>
<body>
<header><nav>
  <a class="brand" href="/store">Mortar Shop</a>
  <form method="get" action="/store" role="search">
    <input type="search" name="q" value="" placeholder="Search products" aria-label="Search products" maxlength="100">
  </form>
  <a href="/store/cart">Cart ${units > 0 ? `<span class="badge" id="cart-count">${units}</span>` : ''}</a>
  <a href="/store/login">Log in</a> <a href="/store/signup">Sign up</a>
</nav></header>
<main>


<h1>${name}</h1>
<div class="card">
          <p>${escapeHtml(product.description)}</p>
          <p><span class="price">${money(product.price_cents)}</span> · ${stock(product)}</p>
          ${addToCart(product, csrf, true)}
        </div>
        ${recommendations}
</main>
<script src="/analytics/script.js" data-page-view="${pageViewId}" data-endpoint="/analytics/collect" data-interval="15" defer></script>
</body>
</html>
`
}
