// The request case's realistic transaction: examples/shop's checkout (its Checkout class: the
// buyer's saved card read, the cart's products read through the shop's policy, the order, its
// lines, the stock taken by a conditional update per product) with and without its order
// notifier, the shop's one notify() call there (OrderConfirmed to the buyer, keyed by the order:
// the buyer's contact read, a mail and an inbox delivery written with their jobs). Nothing
// delivers while it is measured (MORTAR_WORKERS=false). Run by notify.mjs's request case.
import { CLOCK, DATABASE, JOBS } from '@mortar/core'
import { sql } from 'kysely'

const BUYERS = 50
// Carts of two products among these, stocked for every round: few enough to stay cached, enough
// that 16 checkouts at once seldom wait for one another's stock row.
const PRODUCTS = 1_000
const ENV = ['MORTAR_WORKERS', 'LOG_LEVEL', 'NODE_ENV']

const pick = (env, names) => Object.fromEntries(names.map((name) => [name, env[name]]))

/**
 * The shop on `url` (a private database of `engine`), migrated and started with no workers, 50
 * buyers with a saved card each. Resolves to `sides` (`checkout`, `checkout with notify`), each
 * `(client, call) => Promise`, `afterRound()` and `close()`.
 */
export async function shopCheckoutSides(url, engine) {
  // Only for this app: left set, MORTAR_WORKERS=false turned off the workers of every app the
  // bench made after it (the BullMQ case's worker app then waited for ever on a full queue).
  const before = pick(process.env, ENV)
  process.env.MORTAR_WORKERS = 'false'
  process.env.LOG_LEVEL ??= 'error'
  // The shop as `npm start` runs it: development, on its public development defaults.
  process.env.NODE_ENV ??= 'development'
  let app
  let shop
  try {
    shop = await import('../../examples/shop/dist/index.js')
    ;({ app } = shop.createShopApp(
      shop.loadShopConfig({
        NODE_ENV: 'development',
        DATABASE_URL: url,
        PASSWORD_HASH_LOG_N: '10',
        PORT: '0',
        LOG_LEVEL: 'error',
      }),
    ))
    await app.migrate()
    await app.start()
  } finally {
    for (const name of ENV) {
      if (before[name] === undefined) delete process.env[name]
      else process.env[name] = before[name]
    }
  }
  const database = app.resolve(DATABASE)
  await database.root
    .updateTable('products')
    .set({ stock: 1_000_000_000 })
    .where('id', '<=', PRODUCTS)
    .execute()
  const accounts = app.resolve(shop.ACCOUNTS)
  const payments = app.resolve(shop.PAYMENT_METHODS)
  const buyers = []
  for (let i = 0; i < BUYERS; i += 1) {
    const account = await accounts.signUp({
      email: `bench-buyer-${i}@example.com`,
      password: 'bench buyer password',
    })
    const card = await payments.add(account.id, {
      token: `tok_bench_${i}`,
      brand: 'visa',
      last4: String(1000 + i),
    })
    buyers.push({ principal: { id: account.id, roles: ['customer'] }, card: card.method.id })
  }
  const checkout = (listeners) =>
    new shop.Checkout(
      database.kysely,
      app.resolve(shop.PRODUCT_CATALOG),
      payments,
      app.resolve(CLOCK),
      listeners,
    )
  const plain = checkout([])
  const notifying = checkout([app.resolve(shop.ORDER_NOTIFIER)])
  const place = (one) => (_client, call) => {
    const buyer = buyers[call % BUYERS]
    const first = 1 + ((call * 7919) % PRODUCTS)
    const second = 1 + ((first + 1 + (call % 97)) % PRODUCTS)
    return one.place({
      principal: buyer.principal,
      paymentMethodId: buyer.card,
      cart: [
        { productId: first, quantity: 1 },
        { productId: second === first ? first + 1 : second, quantity: 2 },
      ],
    })
  }
  return {
    sides: {
      'shop checkout': place(plain),
      'shop checkout with notify': place(notifying),
    },
    async afterRound() {
      await app.resolve(JOBS).purge(['pending', 'scheduled'])
      await database.root.deleteFrom('mortar_delivery').execute()
      await vacuumAfterDeletes(database, engine, ['mortar_job', 'mortar_delivery'])
    },
    close: () => app.stop(),
  }
}

/**
 * On PostgreSQL, VACUUM of `tables` after a round deleted their rows: the bench's server runs no
 * autovacuum (as a real one does), and each round's dead rows and index entries would make the
 * next round's writes to them dearer (2 delivery rows: 57 µs executing on a fresh table, 73 after
 * five rounds of 2,000 written and deleted), against the sides that write neither.
 */
export async function vacuumAfterDeletes(database, engine, tables) {
  if (engine !== 'postgres') return
  for (const table of tables) await sql`vacuum ${sql.table(table)}`.execute(database.root)
}
