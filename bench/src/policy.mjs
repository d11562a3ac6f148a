// Policies against CASL 7 on the same rules (the rides app's ten): point checks on a built
// ability, bind-a-principal-and-check against building a CASL ability per request, and a filtered
// list over 1,000,000 trips on PostgreSQL against the same query with the WHERE written by hand
// (MORTAR_BENCH_POSTGRES_URL or MORTAR_TEST_POSTGRES_URL, default the local server), with both
// EXPLAIN plans. The PostgreSQL part runs in a private schema, dropped afterwards.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { AccessControl, definePolicy } from '@mortar/auth'
import { AbilityBuilder, createMongoAbility, subject } from '@casl/ability'
import { Kysely, PostgresDialect, sql } from 'kysely'

const ROWS = 1_000_000
const RIDERS = 10_000
const CHECKS = 1_000_000
const ROUNDS = 7
const LIST_ROUNDS = 1000

// The rides rule set, ten rules. CASL has no tenants, so its rules repeat the city condition.
const policy = definePolicy()
  .role('rider', (r) =>
    r
      .allow('read', 'trip', (t, p) => t.eq('rider_id', p.id))
      .allow('cancel', 'trip', (t, p) =>
        t.and(t.eq('rider_id', p.id), t.eq('status', 'requested')),
      ),
  )
  .role('driver', (r) =>
    r
      .allow('read', 'trip', (t, p) => t.eq('driver_id', p.id))
      .allow(['read', 'accept'], 'trip', (t) =>
        t.and(t.eq('status', 'requested'), t.isNull('driver_id')),
      )
      .allow('complete', 'trip', (t, p) =>
        t.and(t.eq('driver_id', p.id), t.eq('status', 'accepted')),
      ),
  )
  .role('support', { inherits: ['rider'] }, (r) =>
    r
      .allow('read', 'trip', true)
      .allow('cancel', 'trip', (t) => t.in('status', ['requested', 'accepted'])),
  )
  .role('admin', { inherits: ['support'] }, (r) =>
    r.allow(['read', 'cancel', 'accept', 'complete', 'delete'], 'trip', true),
  )
  .deny('read', 'trip', (t) => t.eq('deleted', true))
  .deny(['cancel', 'complete'], 'trip', (t) => t.gte('fare', 1000))
  .tenant('trip', 'city_id', (p) => p.cityId, { except: ['admin'] })
  .build()

function caslAbility(user) {
  const { can, cannot, build } = new AbilityBuilder(createMongoAbility)
  const roles = new Set(user.roles)
  if (roles.has('support') || roles.has('admin')) roles.add('rider')
  if (roles.has('admin')) roles.add('support')
  const city = { city_id: user.cityId }
  if (roles.has('rider')) {
    can('read', 'Trip', { rider_id: user.id, ...city })
    can('cancel', 'Trip', { rider_id: user.id, status: 'requested', ...city })
  }
  if (roles.has('driver')) {
    can('read', 'Trip', { driver_id: user.id, ...city })
    can(['read', 'accept'], 'Trip', { status: 'requested', driver_id: null, ...city })
    can('complete', 'Trip', { driver_id: user.id, status: 'accepted', ...city })
  }
  if (roles.has('support')) {
    can('read', 'Trip', city)
    can('cancel', 'Trip', { status: { $in: ['requested', 'accepted'] }, ...city })
  }
  if (roles.has('admin')) can(['read', 'cancel', 'accept', 'complete', 'delete'], 'Trip')
  cannot('read', 'Trip', { deleted: true })
  cannot(['cancel', 'complete'], 'Trip', { fare: { $gte: 1000 } })
  return build()
}

const STATUSES = ['requested', 'accepted', 'done', 'cancelled']
const ROLE_SETS = [['rider'], ['driver'], ['support'], ['rider', 'driver']]
const ACTIONS = ['read', 'cancel', 'accept', 'complete']

function sampleTrips(count) {
  const trips = []
  for (let i = 0; i < count; i++) {
    trips.push({
      id: i,
      rider_id: `u${i % 7}`,
      driver_id: i % 3 === 0 ? null : `u${i % 5}`,
      city_id: 1 + (i % 2),
      status: STATUSES[i % 4],
      fare: i % 11 === 0 ? null : (i * 37) % 1500,
      deleted: i % 13 === 0,
    })
  }
  return trips
}

function samplePrincipals(count) {
  const principals = []
  for (let i = 0; i < count; i++) {
    principals.push({
      id: `u${i % 7}`,
      roles: ROLE_SETS[i % ROLE_SETS.length],
      cityId: 1 + (i % 2),
    })
  }
  return principals
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

// Interleaved rounds, order flipped every round; resolves to median operations per second.
function rates(variants, operations) {
  const samples = Object.fromEntries(variants.map(([name]) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    for (const [name, run] of order) {
      const start = performance.now()
      const result = run()
      const ms = performance.now() - start
      if (result === undefined) throw new Error(`${name} returned nothing`)
      samples[name].push((operations / ms) * 1000)
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, median(list)]))
}

const format = (rate) => `${Math.round(rate).toLocaleString('en-US')}/s`

function checks() {
  const access = new AccessControl({ policy })
  const trips = sampleTrips(1000)
  const caslTrips = trips.map((trip) => subject('Trip', { ...trip }))
  const principals = samplePrincipals(64)
  const abilities = principals.map(caslAbility)
  // The two must answer the same before their speed means anything.
  for (let i = 0; i < 20_000; i++) {
    const p = i % principals.length
    const t = i % trips.length
    const action = ACTIONS[i % ACTIONS.length]
    const mortar = access.can(principals[p], action, 'trip', trips[t])
    const casl = abilities[p].can(action, caslTrips[t])
    if (mortar !== casl) {
      throw new Error(
        `answers differ: ${action} ${JSON.stringify(principals[p])} ${JSON.stringify(trips[t])}`,
      )
    }
  }
  const point = rates(
    [
      [
        'mortar',
        () => {
          let allowed = 0
          for (let i = 0; i < CHECKS; i++) {
            if (access.can(principals[i & 63], ACTIONS[i & 3], 'trip', trips[i % 1000])) allowed++
          }
          return allowed
        },
      ],
      [
        'casl',
        () => {
          let allowed = 0
          for (let i = 0; i < CHECKS; i++) {
            if (abilities[i & 63].can(ACTIONS[i & 3], caslTrips[i % 1000])) allowed++
          }
          return allowed
        },
      ],
    ],
    CHECKS,
  )
  console.log(
    `policy    point checks: mortar ${format(point.mortar)}, casl ${format(point.casl)}: ` +
      `mortar is ${(point.mortar / point.casl).toFixed(1)}x (goal 2x)`,
  )
  const BINDS = CHECKS / 10
  // A request: a principal arrives (a fresh object, as a session would make it), then one check.
  const bind = rates(
    [
      [
        'mortar',
        () => {
          let allowed = 0
          for (let i = 0; i < BINDS; i++) {
            const source = principals[i & 63]
            const principal = { id: source.id, roles: source.roles, cityId: source.cityId }
            if (access.for(principal).can(ACTIONS[i & 3], 'trip', trips[i % 1000])) allowed++
          }
          return allowed
        },
      ],
      [
        'casl',
        () => {
          let allowed = 0
          for (let i = 0; i < BINDS; i++) {
            const source = principals[i & 63]
            const principal = { id: source.id, roles: source.roles, cityId: source.cityId }
            if (caslAbility(principal).can(ACTIONS[i & 3], caslTrips[i % 1000])) allowed++
          }
          return allowed
        },
      ],
    ],
    BINDS,
  )
  console.log(
    `policy    bind a principal + check: mortar ${format(bind.mortar)}, casl build ability + check ` +
      `${format(bind.casl)}: mortar is ${(bind.mortar / bind.casl).toFixed(1)}x (goal 5x)`,
  )
}

async function timeQuery(run) {
  const start = performance.now()
  const rows = await run()
  return { ms: performance.now() - start, rows }
}

// EXPLAIN cannot take bind parameters: prepare the statement, then explain its execution.
async function plan(db, query) {
  const compiled = query.compile()
  const name = `plan_${randomBytes(4).toString('hex')}`
  await sql.raw(`prepare ${name} as ${compiled.sql}`).execute(db)
  const args = compiled.parameters.map((value) =>
    typeof value === 'string' ? `'${value}'` : String(value),
  )
  const explained = await sql
    .raw(`explain (costs off) execute ${name}(${args.join(', ')})`)
    .execute(db)
  await sql.raw(`deallocate ${name}`).execute(db)
  return explained.rows.map((row) => row['QUERY PLAN']).join('\n')
}

async function list(url) {
  const { default: pg } = await import('pg')
  const schema = `mortar_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  await admin.query(`create schema ${schema}`)
  // One connection, so the prepared statements of the plan comparison stay on it.
  const db = new Kysely({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: url, max: 1, options: `-c search_path=${schema}` }),
    }),
  })
  try {
    await sql`create table trip (id integer primary key, rider_id text not null, driver_id text,
      city_id integer not null, status text not null, fare integer, deleted boolean not null)`.execute(
      db,
    )
    await sql`insert into trip select g, 'u' || (g % ${sql.lit(RIDERS)}),
      case when g % 3 = 0 then null else 'u' || (g % 997) end, 1 + g % 2,
      (array['requested','accepted','done','cancelled'])[1 + g % 4],
      case when g % 11 = 0 then null else (g * 37) % 1500 end, g % 13 = 0
      from generate_series(1, ${sql.lit(ROWS)}) g`.execute(db)
    await sql`create index trip_city_rider on trip (city_id, rider_id)`.execute(db)
    await sql`create index trip_city_driver on trip (city_id, driver_id)`.execute(db)
    await sql`analyze trip`.execute(db)
    const access = await AccessControl.create({ policy, db })
    const rider = { id: 'u4242', roles: ['rider'], cityId: 1 }
    const driver = { id: 'u42', roles: ['driver'], cityId: 1 }
    const cases = [
      {
        name: 'rider reads own trips',
        mortar: () =>
          access.filter(db.selectFrom('trip').selectAll().orderBy('id'), rider, 'read', 'trip'),
        hand: () =>
          db
            .selectFrom('trip')
            .selectAll()
            .where('city_id', '=', 1)
            .where('rider_id', '=', 'u4242')
            .where(sql`not (deleted = ${true})`)
            .orderBy('id'),
      },
      {
        name: 'driver reads own and open trips',
        mortar: () =>
          access.filter(
            db.selectFrom('trip').selectAll().orderBy('id').limit(100),
            driver,
            'read',
            'trip',
          ),
        hand: () =>
          db
            .selectFrom('trip')
            .selectAll()
            .where('city_id', '=', 1)
            .where((eb) =>
              eb.or([
                eb('driver_id', '=', 'u42'),
                eb.and([eb('status', '=', 'requested'), eb('driver_id', 'is', null)]),
              ]),
            )
            .where(sql`not (deleted = ${true})`)
            .orderBy('id')
            .limit(100),
      },
    ]
    for (const { name, mortar, hand } of cases) {
      const first = await timeQuery(() => mortar().execute())
      const second = await timeQuery(() => hand().execute())
      if (JSON.stringify(first.rows) !== JSON.stringify(second.rows))
        throw new Error(`${name}: rows differ`)
      const samples = { mortar: [], hand: [] }
      for (let round = 0; round < LIST_ROUNDS; round++) {
        const order = round % 2 === 0 ? ['mortar', 'hand'] : ['hand', 'mortar']
        for (const variant of order) {
          const { ms } = await timeQuery(() => (variant === 'mortar' ? mortar() : hand()).execute())
          samples[variant].push(ms)
        }
      }
      const mortarMs = median(samples.mortar)
      const handMs = median(samples.hand)
      const mortarPlan = await plan(db, mortar())
      const handPlan = await plan(db, hand())
      console.log(
        `policy    postgres ${name} (${first.rows.length} of ${ROWS.toLocaleString('en')} trips): ` +
          `mortar ${mortarMs.toFixed(3)} ms, hand-written ${handMs.toFixed(3)} ms: ` +
          `${(mortarMs / handMs).toFixed(2)}x its time (goal at most 1.05x), ` +
          `plans ${mortarPlan === handPlan ? 'identical' : 'DIFFER'}`,
      )
      console.log(`  mortar SQL: ${mortar().compile().sql}`)
      console.log(`  mortar plan:\n    ${mortarPlan.split('\n').join('\n    ')}`)
      console.log(`  hand SQL:   ${hand().compile().sql}`)
      console.log(`  hand plan:\n    ${handPlan.split('\n').join('\n    ')}`)
    }
  } finally {
    await db.destroy()
    await admin.query(`drop schema ${schema} cascade`)
    await admin.end()
  }
}

/** Runs the policy bench. */
export async function run() {
  console.log('policy: @mortar/auth against @casl/ability 7 on the rides rule set')
  checks()
  if (process.env.BENCH_POLICY_CHECKS_ONLY) return
  const url =
    process.env.MORTAR_BENCH_POSTGRES_URL ??
    process.env.MORTAR_TEST_POSTGRES_URL ??
    'postgres://postgres@127.0.0.1:5432/test'
  try {
    await list(url)
  } catch (error) {
    console.log(`policy    postgres skipped: ${error.message}`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
