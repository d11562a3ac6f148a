import { databaseToken } from '@mortar/core'

/** What a user may be; the policy gives each its rules. */
export type Role = 'rider' | 'driver' | 'admin'

/** A trip's life: requested by a rider, accepted by a driver, then completed or cancelled. */
export type TripStatus = 'requested' | 'accepted' | 'completed' | 'cancelled'

export interface UsersTable {
  id: string
  email: string
  name: string
  role: Role
  password_hash: string
}

export interface TripsTable {
  id: string
  rider_id: string
  driver_id: string | null
  status: TripStatus
  pickup: string
  dropoff: string
  /** ISO 8601 in UTC, so text order is time order on every engine. */
  requested_at: string
}

/** The rides database. */
export interface RidesDb {
  users: UsersTable
  trips: TripsTable
}

/** The app's transaction-aware Kysely, typed by {@link RidesDb}. */
export const RIDES_DB = databaseToken<RidesDb>()

/** A trip as the API returns it. */
export type Trip = TripsTable

/** The columns every trip query selects. */
export const TRIP_COLUMNS = [
  'id',
  'rider_id',
  'driver_id',
  'status',
  'pickup',
  'dropoff',
  'requested_at',
] as const
