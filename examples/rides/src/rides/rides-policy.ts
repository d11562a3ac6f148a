import { AccessControl, definePolicy } from '@mortar/auth'
import { token } from '@mortar/core'
import type { RidesDb, Role } from './rides-db.js'

/** Who is calling, as the policy sees them. */
export interface RidesPrincipal {
  readonly id: string
  readonly roles: readonly Role[]
}

/** What can be done to a trip. */
export type TripAction = 'read' | 'request' | 'cancel' | 'accept'

/**
 * Every rule of the rides app, in one place. The same rules answer point checks (may this
 * driver accept trip 7?) and filter list queries (which trips may this rider read?), so a list
 * can never show a trip that a check would refuse. Anything not allowed here is denied, and a
 * trip one may not read answers 404, as if it did not exist.
 */
export const ridesPolicy = definePolicy<RidesDb, RidesPrincipal, TripAction>()
  .role('rider', (r) =>
    r
      .allow('read', 'trips', (t, p) => t.eq('rider_id', p.id), { id: 'rider-reads-own-trips' })
      .allow(
        'request',
        'trips',
        (t, p) => t.and(t.eq('rider_id', p.id), t.eq('status', 'requested'), t.isNull('driver_id')),
        { id: 'rider-requests-for-self' },
      )
      .allow(
        'cancel',
        'trips',
        (t, p) => t.and(t.eq('rider_id', p.id), t.eq('status', 'requested')),
        {
          id: 'rider-cancels-own-requested-trip',
        },
      ),
  )
  .role('driver', (r) =>
    r
      .allow('read', 'trips', (t, p) => t.eq('driver_id', p.id), {
        id: 'driver-reads-driven-trips',
      })
      .allow('accept', 'trips', (t) => t.and(t.eq('status', 'requested'), t.isNull('driver_id')), {
        id: 'driver-accepts-open-request',
      }),
  )
  .role('admin', (r) =>
    r
      .allow('read', 'trips', true, { id: 'admin-reads-every-trip' })
      .allow('cancel', 'trips', (t) => t.in('status', ['requested', 'accepted']), {
        id: 'admin-cancels-open-trip',
      }),
  )
  .hideExistence('trips', ['read'])
  .build()

/** The app's access control over {@link ridesPolicy}. */
export const RIDES_ACCESS =
  token<AccessControl<RidesDb, RidesPrincipal, TripAction>>('rides.access')
