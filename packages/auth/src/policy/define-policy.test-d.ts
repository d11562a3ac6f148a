// Type tests, checked by the root `tsc`: each `@ts-expect-error` line must fail to compile, every
// other line must compile.
import type { Kysely } from 'kysely'
import { AccessControl } from '../access-control/access-control.js'
import type { RidesDb, RidesPrincipal } from '../testing/rides-fixture.js'
import { definePolicy } from './define-policy.js'

interface OrgPrincipal extends RidesPrincipal {
  org: { cityIds: number[]; name: string }
}

const builder = definePolicy<RidesDb, OrgPrincipal, 'read' | 'cancel'>()

// Must compile: columns, literals and principal values of the right types.
builder
  .allow('read', 'trip', (t, p) => t.eq('rider_id', p.id))
  .allow('read', 'trip', (t, p) =>
    t.and(t.eq('city_id', p.cityId), t.gte('fare', 100), t.isNull('driver_id')),
  )
  .allow('read', 'trip', (t, p) => t.in('city_id', p.org.cityIds))
  .allow('read', 'trip', (t) =>
    t.or(t.in('status', ['requested', 'accepted']), t.not(t.eq('deleted', true))),
  )
  .allow('read', 'trip', (t, p) =>
    t.exists('trip_share', (s) => s.and(s.matches('trip_id', 'id'), s.eq('user_id', p.id))),
  )
  .allow(['read', 'cancel'], 'trip', true)
  .tenant('trip', 'city_id', (p) => p.cityId)
  .fields('trip', 'rider', ['id', 'status'])

// @ts-expect-error a misspelled column
builder.allow('read', 'trip', (t, p) => t.eq('ridr_id', p.id))
// @ts-expect-error a literal of the wrong type
builder.allow('read', 'trip', (t) => t.eq('city_id', 'one'))
// @ts-expect-error a principal value of the wrong type (string id against a numeric column)
builder.allow('read', 'trip', (t, p) => t.eq('city_id', p.id))
// @ts-expect-error null is compared through isNull
builder.allow('read', 'trip', (t) => t.eq('driver_id', null))
// @ts-expect-error an `in` list of the wrong type
builder.allow('read', 'trip', (t) => t.in('status', [1, 2]))
// @ts-expect-error a principal array of the wrong type
builder.allow('read', 'trip', (t, p) => t.in('status', p.org.cityIds))
// @ts-expect-error a misspelled principal field
builder.allow('read', 'trip', (t, p) => t.eq('rider_id', p.ident))
// @ts-expect-error an unknown table
builder.allow('read', 'trips', true)
// @ts-expect-error an action the policy does not declare
builder.allow('fly', 'trip', true)
builder.allow('read', 'trip', (t) =>
  // @ts-expect-error a relation linking columns of different types
  t.exists('trip_share', (s) => s.matches('trip_id', 'rider_id')),
)
// @ts-expect-error a relation naming an outer column that does not exist
builder.allow('read', 'trip', (t) => t.exists('trip_share', (s) => s.matches('trip_id', 'trip_id')))
builder.allow('read', 'trip', (t) =>
  // @ts-expect-error a condition over another table
  t.exists('trip_share', (s) => s.and(s.eq('user_id', 'u1'), t.eq('fare', 1))),
)
// @ts-expect-error a tenant value of the wrong type
builder.tenant('trip', 'city_id', (p) => p.id)
// @ts-expect-error a misspelled field
builder.fields('trip', 'rider', ['id', 'statuss'])

declare const db: Kysely<RidesDb>
declare const principal: OrgPrincipal
const access = await AccessControl.create({ policy: builder.build(), db })

// Must compile: checks, filters on select, update and delete, and typed field lists.
access.can(principal, 'read', 'trip', { id: 1, city_id: 1 })
access.filter(db.selectFrom('trip').selectAll(), principal, 'read', 'trip')
access.filter(db.updateTable('trip').set({ status: 'cancelled' }), principal, 'cancel', 'trip')
access.filter(db.deleteFrom('trip'), principal, 'cancel', 'trip')
db.selectFrom('trip').where(access.where(principal, 'read', 'trip'))
const fields:
  | readonly ('id' | 'rider_id' | 'driver_id' | 'city_id' | 'status' | 'fare' | 'deleted')[]
  | undefined = access.permittedFields(principal, 'trip')
void fields

// @ts-expect-error a row column of the wrong type
access.can(principal, 'read', 'trip', { city_id: 'one' })
// @ts-expect-error an unknown resource
access.can(principal, 'read', 'trips')
// @ts-expect-error an undeclared action
access.can(principal, 'fly', 'trip')
