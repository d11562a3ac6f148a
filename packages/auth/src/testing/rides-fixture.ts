// Test support, not part of the public API: the rides schema, policy and random worlds that the
// policy, access-control and agreement tests share.
import fc from 'fast-check'
import { type Kysely, sql } from 'kysely'
import { definePolicy } from '../policy/define-policy.js'
import type { World } from './policy-agreement.js'

export interface TripTable {
  id: number
  rider_id: string
  driver_id: string | null
  city_id: number
  status: string
  fare: number | null
  deleted: boolean
}

export interface RidesDb {
  trip: TripTable
  trip_share: { trip_id: number; user_id: string }
}

export interface RidesPrincipal {
  id: string
  roles: readonly string[]
  cityId?: number
}

export type RidesAction = 'read' | 'cancel' | 'accept' | 'complete' | 'delete'

export const RIDES_ACTIONS: readonly RidesAction[] = [
  'read',
  'cancel',
  'accept',
  'complete',
  'delete',
]

export const USERS = ['u1', 'u2', 'u3'] as const
export const STATUSES = ['requested', 'accepted', 'done', 'cancelled'] as const

/**
 * Values that MariaDB's default collations take for a user or status above (case, accents,
 * trailing spaces), and two whose order differs between UTF-16 units and code points
 * (U+FF55 and U+1D42E): worlds hold them so that `can` and `where` must tell them apart.
 */
export const LOOKALIKE_USERS = ['U1', 'u1 ', 'ú1', '\uFF551', '\u{1D42E}1'] as const
export const LOOKALIKE_STATUSES = ['Requested', 'requested ', 'accépted'] as const

/** The rides app's rule set: eleven rules over four roles, a tenant and hidden existence. */
export const ridesPolicy = definePolicy<RidesDb, RidesPrincipal, RidesAction>()
  .role('rider', (r) =>
    r
      .allow('read', 'trip', (t, p) => t.eq('rider_id', p.id), { id: 'rider-own-trips' })
      .allow(
        'read',
        'trip',
        (t, p) =>
          t.exists('trip_share', (s) => s.and(s.matches('trip_id', 'id'), s.eq('user_id', p.id))),
        { id: 'rider-shared-trips' },
      )
      .allow(
        'cancel',
        'trip',
        (t, p) => t.and(t.eq('rider_id', p.id), t.eq('status', 'requested')),
        {
          id: 'rider-cancel-requested',
        },
      )
      .fields('trip', ['id', 'status', 'city_id', 'rider_id', 'driver_id', 'fare']),
  )
  .role('driver', (r) =>
    r
      .allow('read', 'trip', (t, p) => t.eq('driver_id', p.id), { id: 'driver-own-trips' })
      .allow(
        ['read', 'accept'],
        'trip',
        (t) => t.and(t.eq('status', 'requested'), t.isNull('driver_id')),
        {
          id: 'driver-open-requests',
        },
      )
      .allow(
        'complete',
        'trip',
        (t, p) => t.and(t.eq('driver_id', p.id), t.eq('status', 'accepted')),
        {
          id: 'driver-complete',
        },
      )
      .fields('trip', ['id', 'status', 'city_id', 'driver_id']),
  )
  .role('support', { inherits: ['rider'] }, (r) =>
    r
      .allow('read', 'trip', true, { id: 'support-read-all' })
      .allow('cancel', 'trip', (t) => t.in('status', ['requested', 'accepted']), {
        id: 'support-cancel',
      }),
  )
  .role('admin', { inherits: ['support'] }, (r) =>
    r.allow(['read', 'cancel', 'accept', 'complete', 'delete'], 'trip', true, { id: 'admin-all' }),
  )
  .deny('read', 'trip', (t) => t.eq('deleted', true), {
    id: 'no-deleted-trips',
    reason: 'the trip was deleted',
  })
  .deny(['cancel', 'complete'], 'trip', (t) => t.gte('fare', 1000), {
    id: 'no-large-fare-changes',
    reason: 'trips over 1000 need a manual review',
  })
  .tenant('trip', 'city_id', (p) => p.cityId, { except: ['admin'] })
  .hideExistence('trip', ['read'])
  .build()

/** Creates the rides tables. */
export async function createRidesTables(db: Kysely<RidesDb>): Promise<void> {
  await db.schema
    .createTable('trip')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('rider_id', 'varchar(16)', (c) => c.notNull())
    .addColumn('driver_id', 'varchar(16)')
    .addColumn('city_id', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('fare', 'integer')
    .addColumn('deleted', 'boolean', (c) => c.notNull())
    .execute()
  await db.schema
    .createTable('trip_share')
    .addColumn('trip_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'varchar(16)', (c) => c.notNull())
    .execute()
}

/** Drops the rides tables. */
export async function dropRidesTables(db: Kysely<RidesDb>): Promise<void> {
  await sql`drop table if exists trip_share`.execute(db)
  await sql`drop table if exists trip`.execute(db)
}

const user = fc.constantFrom(...USERS)
const storedUser = fc.oneof(
  { weight: 3, arbitrary: user },
  { weight: 1, arbitrary: fc.constantFrom(...LOOKALIKE_USERS) },
)

/** Random rides worlds: up to 12 trips in two cities, and shares of them. */
export const ridesWorlds: fc.Arbitrary<World> = fc
  .array(
    fc.record({
      rider_id: storedUser,
      driver_id: fc.option(storedUser, { nil: null }),
      city_id: fc.constantFrom(1, 2),
      status: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...STATUSES) },
        { weight: 1, arbitrary: fc.constantFrom(...LOOKALIKE_STATUSES) },
      ),
      fare: fc.option(fc.constantFrom(0, 500, 1000, 1500), { nil: null }),
      deleted: fc.boolean(),
    }),
    { maxLength: 12 },
  )
  .chain((trips) => {
    const rows = trips.map((trip, index) => ({ id: index + 1, ...trip }))
    const share =
      rows.length === 0
        ? fc.constant([])
        : fc.uniqueArray(
            fc.record({
              trip_id: fc.integer({ min: 1, max: rows.length }),
              user_id: storedUser,
            }),
            {
              maxLength: 6,
              selector: (row) => `${row.trip_id}:${row.user_id}`,
            },
          )
    return share.map((shares) => ({ trip: rows, trip_share: shares }))
  })

const ROLE_SETS: readonly (readonly string[])[] = [
  [],
  ['rider'],
  ['driver'],
  ['support'],
  ['admin'],
  ['rider', 'driver'],
]

/**
 * Every user in every role set, in city 1 and without a city, plus an anonymous caller and a
 * user whose id differs from u1's only in case.
 */
export function ridesPrincipals(): readonly (RidesPrincipal | undefined)[] {
  const principals: (RidesPrincipal | undefined)[] = [undefined]
  for (const id of [...USERS, 'U1']) {
    for (const roles of ROLE_SETS) {
      principals.push({ id, roles, cityId: 1 }, { id, roles })
    }
  }
  return principals
}
