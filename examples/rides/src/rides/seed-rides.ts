import type { PasswordHasher } from '@mortar/auth'
import type { Kysely } from 'kysely'
import type { RidesDb, Role, TripStatus, TripsTable, UsersTable } from './rides-db.js'

/** A seeded account: who it is, without the password. */
export interface SeedUser {
  readonly id: string
  readonly email: string
  readonly name: string
  readonly role: Role
}

/** The seeded accounts: one admin, three riders, two drivers. */
export const SEED_USERS: readonly SeedUser[] = [
  { id: 'u-admin', email: 'admin@rides.example', name: 'Ana Admin', role: 'admin' },
  { id: 'u-ada', email: 'ada@rides.example', name: 'Ada Rider', role: 'rider' },
  { id: 'u-bob', email: 'bob@rides.example', name: 'Bob Rider', role: 'rider' },
  { id: 'u-cy', email: 'cy@rides.example', name: 'Cy Rider', role: 'rider' },
  { id: 'u-dee', email: 'dee@rides.example', name: 'Dee Driver', role: 'driver' },
  { id: 'u-eli', email: 'eli@rides.example', name: 'Eli Driver', role: 'driver' },
]

const PLACES = ['Central Station', 'Airport', 'Harbour', 'Old Town', 'University', 'Stadium']
const STATUSES: readonly TripStatus[] = ['requested', 'accepted', 'completed', 'cancelled']
const FIRST_REQUEST = Date.UTC(2026, 0, 5, 8, 0, 0)

/**
 * The seeded trips, the same on every run: 24 trips over the three riders, in every status, the
 * accepted and completed ones driven by the two drivers.
 */
export function seedTrips(): TripsTable[] {
  const riders = SEED_USERS.filter((user) => user.role === 'rider')
  const drivers = SEED_USERS.filter((user) => user.role === 'driver')
  return Array.from({ length: 24 }, (_, index) => {
    const n = index + 1
    const status = STATUSES[index % STATUSES.length] as TripStatus
    // Requested trips have no driver yet; half the cancelled ones were cancelled before pickup.
    const driven =
      status === 'accepted' || status === 'completed' || (status === 'cancelled' && n % 8 === 0)
    return {
      id: `trip-${String(n).padStart(3, '0')}`,
      rider_id: (riders[index % riders.length] as SeedUser).id,
      driver_id: driven ? (drivers[Math.floor(index / 2) % drivers.length] as SeedUser).id : null,
      status,
      pickup: PLACES[index % PLACES.length] as string,
      dropoff: PLACES[(index + 2) % PLACES.length] as string,
      requested_at: new Date(FIRST_REQUEST + index * 37 * 60_000).toISOString(),
    }
  })
}

/**
 * Seeds an empty database with {@link SEED_USERS} (every one with `password`) and
 * {@link seedTrips}; a database that has users is left as it is.
 */
export async function seedRides(
  db: Kysely<RidesDb>,
  options: { readonly hasher: PasswordHasher; readonly password: string },
): Promise<void> {
  const existing = await db.selectFrom('users').select('id').limit(1).executeTakeFirst()
  if (existing !== undefined) return
  const users: UsersTable[] = await Promise.all(
    SEED_USERS.map(async (user) => ({
      ...user,
      password_hash: await options.hasher.hash(options.password),
    })),
  )
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('users').values(users).execute()
    await trx.insertInto('trips').values(seedTrips()).execute()
  })
}
