import { createHash, randomUUID } from 'node:crypto'
import {
  type App,
  CLOCK,
  ConflictError,
  MortarError,
  NotFoundError,
  PAGINATOR,
  safeText,
  ValidationError,
} from '@mortar/core'
import { Hono } from 'hono'
import { z } from 'zod'
import type { RidesConfig } from '../config.js'
import { parseBody } from './auth-routes.js'
import { RIDES_DB, TRIP_COLUMNS, type Trip } from './rides-db.js'
import { currentPrincipal } from './rides-principal.js'
import { RIDES_ACCESS, type RidesPrincipal } from './rides-policy.js'

const listQuery = z.object({
  after: z.string().min(1).max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
})

const requestBody = z.object({
  pickup: safeText({ max: 200 }).trim().min(1),
  dropoff: safeText({ max: 200 }).trim().min(1),
})

const tripId = safeText({ min: 1, max: 64 })

const requestKey = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/)

/**
 * The trip API. Every route asks the policy: lists are filtered by it in SQL, single trips are
 * checked against it, and a trip the caller may not read answers exactly like a missing one.
 */
export function tripRoutes(app: App<RidesConfig>): Hono {
  const routes = new Hono()
  const db = app.resolve(RIDES_DB)
  const access = app.resolve(RIDES_ACCESS)
  const paginator = app.resolve(PAGINATOR)
  const clock = app.resolve(CLOCK)

  // A malformed id names no trip: the same 404 as a missing one, without a query.
  const findTrip = async (id: string): Promise<Trip | undefined> => {
    if (!tripId.safeParse(id).success) return undefined
    return db.selectFrom('trips').select(TRIP_COLUMNS).where('id', '=', id).executeTakeFirst()
  }

  // A refused action is explained (403) only to someone who may read the trip; to anyone else
  // the trip does not exist (404), so ids cannot be probed.
  async function authorizeOnTrip(
    me: RidesPrincipal,
    action: 'cancel' | 'accept',
    trip: Trip | undefined,
  ): Promise<Trip> {
    if (trip === undefined) throw new NotFoundError()
    if (access.can(me, action, 'trips', trip)) return trip
    await access.authorize(me, 'read', 'trips', trip)
    await access.authorize(me, action, 'trips', trip)
    return trip
  }

  routes.get('/trips', async (c) => {
    const me = currentPrincipal()
    const parsed = listQuery.safeParse(c.req.query())
    if (!parsed.success) throw ValidationError.fromZod(parsed.error)
    const query = access.filter(db.selectFrom('trips').select(TRIP_COLUMNS), me, 'read', 'trips')
    const page = await paginator.paginate(query, {
      orderBy: [{ column: 'requested_at', direction: 'desc' }],
      after: parsed.data.after,
      limit: parsed.data.limit,
    })
    return c.json({ trips: page.items, nextCursor: page.nextCursor ?? null })
  })

  routes.get('/trips/:id', async (c) => {
    const me = currentPrincipal()
    const trip = await findTrip(c.req.param('id'))
    if (trip === undefined) throw new NotFoundError()
    await access.authorize(me, 'read', 'trips', trip)
    return c.json({ trip })
  })

  // With an `Idempotency-Key`, the trip's id is derived from the rider and the key, so a request
  // retried or sent twice finds the first trip (200) instead of calling a second car.
  routes.post('/trips', async (c) => {
    const me = currentPrincipal()
    const { pickup, dropoff } = await parseBody(c.req, requestBody)
    const header = c.req.header('idempotency-key')
    const key = header === undefined ? undefined : requestKey.safeParse(header)
    if (key?.success === false) throw ValidationError.fromZod(key.error)
    const id =
      key === undefined
        ? randomUUID()
        : createHash('sha256').update(`${me.id}\n${key.data}`).digest('base64url')
    const trip: Trip = {
      id: `trip-${id}`,
      rider_id: me.id,
      driver_id: null,
      status: 'requested',
      pickup,
      dropoff,
      requested_at: clock.now().toISOString(),
    }
    await access.authorize(me, 'request', 'trips', trip)
    try {
      await db.insertInto('trips').values(trip).execute()
    } catch (error) {
      const first = key === undefined ? undefined : await findTrip(trip.id)
      if (first === undefined) throw error
      // The key names one request: another trip under it would answer a ride the rider did not
      // ask for.
      if (first.pickup !== pickup || first.dropoff !== dropoff)
        throw new IdempotencyKeyReusedError()
      return c.json({ trip: first }, 200)
    }
    return c.json({ trip }, 201)
  })

  routes.post('/trips/:id/cancel', async (c) => {
    const me = currentPrincipal()
    const trip = await authorizeOnTrip(me, 'cancel', await findTrip(c.req.param('id')))
    // The status is checked again in the update, so a trip accepted meanwhile is not cancelled.
    const result = await db
      .updateTable('trips')
      .set({ status: 'cancelled' })
      .where('id', '=', trip.id)
      .where('status', '=', trip.status)
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) !== 1) throw conflict()
    return c.json({ trip: { ...trip, status: 'cancelled' } })
  })

  routes.post('/trips/:id/accept', async (c) => {
    const me = currentPrincipal()
    const trip = await authorizeOnTrip(me, 'accept', await findTrip(c.req.param('id')))
    // Two drivers accepting at once: the update succeeds for one of them only.
    const result = await db
      .updateTable('trips')
      .set({ status: 'accepted', driver_id: me.id })
      .where('id', '=', trip.id)
      .where('status', '=', 'requested')
      .where('driver_id', 'is', null)
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) !== 1) throw conflict()
    return c.json({ trip: { ...trip, status: 'accepted', driver_id: me.id } })
  })

  return routes
}

/** An `Idempotency-Key` sent again with another request than the one it first came with. */
export class IdempotencyKeyReusedError extends MortarError {
  constructor() {
    super(
      'E_IDEMPOTENCY_KEY_REUSED',
      422,
      'This Idempotency-Key came with another trip request; send a new key for a new trip.',
    )
  }
}

function conflict(): ConflictError {
  return new ConflictError('The trip changed meanwhile; load it again and retry.')
}
