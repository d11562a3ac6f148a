import { DatabaseSync, type SQLInputValue } from 'node:sqlite'
import { Database } from '@mortar/core'
import fc from 'fast-check'
import { Kysely, type SqliteDatabase, SqliteDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AccessDeniedError,
  HiddenResourceError,
  PolicyDatabaseError,
  PolicyNeedsDataError,
} from '../errors.js'
import { definePolicy } from '../policy/define-policy.js'
import {
  createRidesTables,
  type RidesDb,
  type RidesPrincipal,
  RIDES_ACTIONS,
  type RidesAction,
  ridesPolicy,
  ridesPrincipals,
  ridesWorlds,
  type TripTable,
} from '../testing/rides-fixture.js'
import { AccessControl } from './access-control.js'

const trip = (overrides: Partial<TripTable>): TripTable => ({
  id: 1,
  rider_id: 'ann',
  driver_id: null,
  city_id: 1,
  status: 'requested',
  fare: 100,
  deleted: false,
  ...overrides,
})

const ann: RidesPrincipal = { id: 'ann', roles: ['rider'], cityId: 1 }
const bob: RidesPrincipal = { id: 'bob', roles: ['rider'], cityId: 1 }
const dan: RidesPrincipal = { id: 'dan', roles: ['driver'], cityId: 1 }
const admin: RidesPrincipal = { id: 'root', roles: ['admin'] }
const access = new AccessControl({ policy: ridesPolicy })

describe('AccessControl point checks', () => {
  it('lets a rider read her own trip and not another rider’s', () => {
    expect(access.can(ann, 'read', 'trip', trip({}), { related: { trip_share: [] } })).toBe(true)
    expect(access.can(bob, 'read', 'trip', trip({}), { related: { trip_share: [] } })).toBe(false)
  })

  it('answers always, never or conditional without a row, never a bare true', () => {
    expect(access.can(ann, 'read', 'trip')).toBe('conditional')
    expect(access.can(admin, 'delete', 'trip')).toBe('always')
    expect(access.can(admin, 'read', 'trip')).toBe('conditional')
    expect(access.can(ann, 'delete', 'trip')).toBe('never')
    expect(access.can(undefined, 'read', 'trip')).toBe('never')
  })

  it('lets a deny rule win over every allow', () => {
    expect(access.can(admin, 'read', 'trip', trip({ deleted: true }))).toBe(false)
    expect(access.can(admin, 'cancel', 'trip', trip({ fare: 1500 }))).toBe(false)
    expect(access.can(admin, 'cancel', 'trip', trip({ fare: 10 }))).toBe(true)
  })

  it('bounds every rule by the tenant, except for exempt roles', () => {
    const elsewhere = trip({ city_id: 2 })
    expect(access.can(ann, 'cancel', 'trip', elsewhere)).toBe(false)
    expect(access.can(admin, 'cancel', 'trip', elsewhere)).toBe(true)
  })

  it('fails closed when the principal lacks a value a rule reads', () => {
    const noCity: RidesPrincipal = { id: 'ann', roles: ['rider'] }
    expect(access.can(noCity, 'cancel', 'trip', trip({}))).toBe(false)
    expect(access.can(noCity, 'cancel', 'trip')).toBe('never')
    const noId = { roles: ['rider'], cityId: 1 } as unknown as RidesPrincipal
    expect(access.can(noId, 'cancel', 'trip', trip({}))).toBe(false)
  })

  it('fails closed on a row that lacks a column a rule reads, NULL checks included', () => {
    const partial = { id: 1, city_id: 1, status: 'requested' }
    expect(access.can(dan, 'accept', 'trip', partial)).toBe(false)
    expect(access.can(dan, 'accept', 'trip', { ...partial, driver_id: null })).toBe(true)
    expect(access.can(admin, 'read', 'trip', { id: 1 })).toBe(false)
  })

  it('reads only a row’s own columns, never inherited ones', () => {
    // A column named like an Object.prototype member read the member (a function, so not NULL),
    // and a row merged from request data with Object.assign got the columns of its `__proto__`.
    const loose = definePolicy<Record<string, Record<string, unknown>>, RidesPrincipal>()
      .allow('read', 'thing', (t) => t.isNotNull('constructor'))
      .allow('write', 'thing', (t, p) => t.eq('owner', p.id))
      .allow('share', 'thing', (t) => t.exists('grant', (g) => g.matches('thing', 'toString')))
      .build()
    const check = new AccessControl({ policy: loose })
    const names = Object.getOwnPropertyNames(Object.prototype)
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.constantFrom(...names), (column, table) => {
        const policy = definePolicy<Record<string, Record<string, unknown>>>()
          .allow('read', 'thing', (t) => t.isNotNull(column))
          .allow('write', 'thing', (t) => t.not(t.isNull(column)))
          .allow('share', 'thing', (t) => t.exists(table, (g) => g.isNull(column)))
          .build()
        const own = new AccessControl({ policy })
        expect(own.can(undefined, 'read', 'thing', {})).toBe(false)
        expect(own.can(undefined, 'write', 'thing', {})).toBe(false)
        expect(() => own.can(undefined, 'share', 'thing', {}, { related: {} })).toThrow(
          PolicyNeedsDataError,
        )
      }),
    )
    expect(check.can(ann, 'read', 'thing', {})).toBe(false)
    const merged = Object.assign({}, JSON.parse('{"__proto__": {"owner": "ann"}}'))
    expect(merged.owner).toBe('ann')
    expect(check.can(ann, 'write', 'thing', merged)).toBe(false)
    expect(check.can(ann, 'write', 'thing', { owner: 'ann' })).toBe(true)
    const grant = Object.assign({}, JSON.parse('{"__proto__": {"thing": "x"}}'))
    expect(
      check.can(ann, 'share', 'thing', { toString: 'x' }, { related: { grant: [grant] } }),
    ).toBe(false)
    expect(
      check.can(ann, 'share', 'thing', { toString: 'x' }, { related: { grant: [{ thing: 'x' }] } }),
    ).toBe(true)
  })

  it('gives inherited roles the rules of their parents', () => {
    const support: RidesPrincipal = { id: 'sue', roles: ['support'], cityId: 1 }
    expect(access.can(support, 'read', 'trip', trip({ rider_id: 'other' }))).toBe(true)
    expect(access.policy.rolesOf(admin)).toEqual(['admin', 'support', 'rider'])
  })

  it('allows nothing on a row argument that holds no row, as when a lookup found none', async () => {
    const loose = access as unknown as {
      can(...args: unknown[]): unknown
      authorize(...args: unknown[]): Promise<void>
      canAsync(...args: unknown[]): Promise<boolean>
    }
    const bound = access.for(admin) as unknown as {
      can(...args: unknown[]): unknown
      authorize(...args: unknown[]): Promise<void>
    }
    for (const row of [undefined, null, 1, 'trip-1']) {
      // A capability ('conditional', even 'never') is a truthy string: never the answer here.
      expect(loose.can(admin, 'read', 'trip', row)).toBe(false)
      expect(loose.can(ann, 'cancel', 'trip', row, {})).toBe(false)
      expect(bound.can('delete', 'trip', row)).toBe(false)
      expect(await loose.canAsync(admin, 'delete', 'trip', row)).toBe(false)
      await expect(loose.authorize(admin, 'delete', 'trip', row)).rejects.toBeInstanceOf(
        AccessDeniedError,
      )
      await expect(bound.authorize('delete', 'trip', row)).rejects.toBeInstanceOf(AccessDeniedError)
      // Where existence is hidden, a missing row answers like any row the caller may not read.
      await expect(loose.authorize(ann, 'read', 'trip', row)).rejects.toBeInstanceOf(
        HiddenResourceError,
      )
    }
    expect(access.can(admin, 'delete', 'trip')).toBe('always')
    await expect(access.authorize(admin, 'delete', 'trip')).resolves.toBeUndefined()
    await expect(access.for(admin).authorize('delete', 'trip')).resolves.toBeUndefined()
  })

  it('asks for related rows when a relation decides a synchronous check', () => {
    const shared = trip({ rider_id: 'bob' })
    expect(() => access.can(ann, 'read', 'trip', shared)).toThrow(PolicyNeedsDataError)
    const share = { trip_id: 1, user_id: 'ann' }
    expect(access.can(ann, 'read', 'trip', shared, { related: { trip_share: [share] } })).toBe(true)
    expect(access.can(ann, 'read', 'trip', shared, { related: { trip_share: [] } })).toBe(false)
  })

  it('keeps roles apart whatever characters their names hold', () => {
    // Role sets were cached under their names joined by NUL: a principal whose one role was
    // 'rider\u0000admin' got the rules cached for ['rider', 'admin'].
    const names = fc.constantFrom('admin', 'rider', 'x', '\u0000', '\u0001', 'admin\u0001trip')
    const roles = fc.array(
      fc.array(names, { maxLength: 3 }).map((parts) => parts.join('')),
      { maxLength: 3 },
    )
    fc.assert(
      fc.property(fc.array(roles, { minLength: 1, maxLength: 8 }), (principals) => {
        const fresh = new AccessControl({ policy: ridesPolicy })
        for (const own of principals) {
          const principal: RidesPrincipal = { id: 'p', roles: own }
          // Only admins may delete trips, in every city.
          expect(fresh.can(principal, 'delete', 'trip')).toBe(
            own.includes('admin') ? 'always' : 'never',
          )
        }
      }),
      { numRuns: 500 },
    )
  })

  it('refuses roles that are not an array, rather than guess', () => {
    // By default they are no roles at all; a roles reader that returns a Set used to expand it,
    // and every Set then shared one cached role set (the first one's).
    for (const roles of [new Set(['admin']), 'admin', { 0: 'admin', length: 1 }]) {
      const principal = { id: 'p', roles } as unknown as RidesPrincipal
      expect(access.can(principal, 'delete', 'trip')).toBe('never')
    }
    const bySet = definePolicy<RidesDb, { roleSet: Set<string> }, RidesAction>({
      roles: (p) => p.roleSet as unknown as string[],
    })
      .role('admin', (r) => r.allow('delete', 'trip', true))
      .build()
    const setAccess = new AccessControl({ policy: bySet })
    expect(() => setAccess.can({ roleSet: new Set(['admin']) }, 'delete', 'trip')).toThrow(
      TypeError,
    )
    expect(() => setAccess.can({ roleSet: new Set(['rider']) }, 'delete', 'trip')).toThrow(
      TypeError,
    )
  })

  it('follows a roles array changed in place, a role taken away included', () => {
    // Rule sets were cached by the array's identity alone: an admin demoted by roles.pop() kept
    // every admin rule, and a role pushed later was never seen.
    const user: RidesPrincipal = { id: 'ann', roles: ['admin'], cityId: 1 }
    const other = trip({ rider_id: 'other', city_id: 2 })
    expect(access.can(user, 'read', 'trip', other)).toBe(true)
    ;(user.roles as string[]).pop()
    expect(access.can(user, 'read', 'trip', other)).toBe(false)
    expect(access.policy.rolesOf(user)).toEqual([])
    ;(user.roles as string[]).push('rider')
    expect(access.can(user, 'read', 'trip', trip({ rider_id: 'ann' }))).toBe(true)
    ;(user.roles as string[])[0] = 'admin'
    expect(access.can(user, 'read', 'trip', other)).toBe(true)
  })

  it('binds a principal once and answers like the unbound service', () => {
    const bound = access.for(dan)
    const open = trip({ rider_id: 'ann' })
    expect(bound.can('accept', 'trip', open)).toBe(true)
    expect(bound.can('complete', 'trip', open)).toBe(false)
    expect(bound.can('complete', 'trip', trip({ driver_id: 'dan', status: 'accepted' }))).toBe(true)
    expect(bound.can('accept', 'trip')).toBe('conditional')
  })
})

describe('AccessControl.authorize', () => {
  it('throws an AccessDeniedError carrying the deny rule’s id and reason', async () => {
    const error = await access
      .authorize(ann, 'cancel', 'trip', trip({ fare: 1200 }))
      .catch((e) => e)
    expect(error).toBeInstanceOf(AccessDeniedError)
    expect(error).toMatchObject({
      status: 403,
      code: 'E_POLICY_DENIED',
      ruleId: 'no-large-fare-changes',
      reason: 'trips over 1000 need a manual review',
    })
  })

  it('names the default deny when no rule allows', async () => {
    const error = await access.authorize(dan, 'delete', 'trip').catch((e) => e)
    expect(error).toMatchObject({ code: 'E_POLICY_DENIED', ruleId: 'default-deny' })
  })

  it('hides existence with a plain 404 where the policy says so', async () => {
    const error = await access
      .authorize(dan, 'read', 'trip', trip({ driver_id: 'eve' }))
      .catch((e) => e)
    expect(error).toBeInstanceOf(HiddenResourceError)
    expect(error).toMatchObject({
      status: 404,
      code: 'E_NOT_FOUND',
      message: 'Not found.',
      details: undefined,
    })
    expect(error.ruleId).toBe('default-deny')
  })

  it('resolves when allowed', async () => {
    await expect(access.authorize(ann, 'cancel', 'trip', trip({}))).resolves.toBeUndefined()
  })
})

describe('AccessControl.explain', () => {
  it('lists every rule considered with its outcome and the deciding rule', () => {
    const explanation = access.explain(admin, 'read', 'trip', trip({ deleted: true }))
    expect(explanation.decision).toBe(false)
    expect(explanation.ruleId).toBe('no-deleted-trips')
    expect(explanation.rules).toContainEqual(
      expect.objectContaining({ id: 'admin-all', effect: 'allow', outcome: 'matched' }),
    )
    expect(explanation.rules).toContainEqual(
      expect.objectContaining({ id: 'no-deleted-trips', effect: 'deny', outcome: 'matched' }),
    )
  })

  it('marks rules the principal cannot satisfy', () => {
    const explanation = access.explain({ id: 'ann', roles: ['rider'] }, 'cancel', 'trip')
    expect(explanation.decision).toBe('never')
    expect(explanation.rules[0]).toMatchObject({
      id: 'tenant:trip',
      outcome: 'missing-principal-value',
    })
  })
})

describe('AccessControl.permittedFields', () => {
  it('returns the union of the principal’s roles’ columns', () => {
    expect(access.permittedFields(dan, 'trip')).toEqual(['id', 'status', 'city_id', 'driver_id'])
    expect(access.permittedFields({ id: 'x', roles: ['driver', 'rider'] }, 'trip')).toEqual([
      'id',
      'status',
      'city_id',
      'driver_id',
      'rider_id',
      'fare',
    ])
    expect(access.permittedFields(undefined, 'trip')).toEqual([])
    expect(access.permittedFields(ann, 'trip_share')).toBeUndefined()
  })
})

describe('AccessControl on a database', () => {
  let database: Database<RidesDb>
  let db: Kysely<RidesDb>
  let withDb: AccessControl<
    RidesDb,
    RidesPrincipal,
    'read' | 'cancel' | 'accept' | 'complete' | 'delete'
  >

  beforeAll(async () => {
    database = new Database<RidesDb>('sqlite::memory:')
    db = database.kysely
    await createRidesTables(db)
    await db
      .insertInto('trip')
      .values([
        trip({ id: 1 }),
        trip({ id: 2, rider_id: 'bob' }),
        trip({ id: 3, rider_id: 'bob', status: 'done' }),
        trip({ id: 4, rider_id: 'ann', city_id: 2 }),
      ])
      .execute()
    await db.insertInto('trip_share').values({ trip_id: 2, user_id: 'ann' }).execute()
    withDb = await AccessControl.create({ policy: ridesPolicy, db })
  })

  afterAll(() => database.destroy())

  it('filters a list to the rows the point check allows', async () => {
    const rows = await withDb
      .filter(db.selectFrom('trip').select('id').orderBy('id'), ann, 'read', 'trip')
      .execute()
    expect(rows.map((row) => row.id)).toEqual([1, 2])
  })

  it('filters updates and deletes, and follows a table alias', async () => {
    const updated = await withDb
      .filter(db.updateTable('trip').set({ status: 'cancelled' }), bob, 'cancel', 'trip')
      .executeTakeFirst()
    expect(Number(updated.numUpdatedRows)).toBe(1)
    const deleted = await withDb
      .filter(db.deleteFrom('trip'), bob, 'delete', 'trip')
      .executeTakeFirst()
    expect(Number(deleted.numDeletedRows)).toBe(0)
    const aliased = await db
      .selectFrom('trip as t')
      .select('t.id')
      .where(withDb.where(bob, 'read', 'trip', { as: 't' }))
      .orderBy('t.id')
      .execute()
    expect(aliased.map((row) => row.id)).toEqual([2, 3])
  })

  it('runs relation conditions on the database in canAsync and authorize', async () => {
    const shared = trip({ id: 2, rider_id: 'bob' })
    expect(await withDb.canAsync(ann, 'read', 'trip', shared)).toBe(true)
    expect(
      await withDb.canAsync({ id: 'cat', roles: ['rider'], cityId: 1 }, 'read', 'trip', shared),
    ).toBe(false)
    await expect(withDb.authorize(ann, 'read', 'trip', shared)).resolves.toBeUndefined()
  })

  it('refuses a relation check without a database', async () => {
    await expect(access.canAsync(ann, 'read', 'trip', trip({ rider_id: 'bob' }))).rejects.toThrow(
      PolicyNeedsDataError,
    )
  })

  it('filters to nothing for a principal no rule allows', async () => {
    const rows = await withDb
      .filter(db.selectFrom('trip').select('id'), undefined, 'read', 'trip')
      .execute()
    expect(rows).toEqual([])
  })
})

describe('definePolicy', () => {
  it('refuses unknown inherited roles, cycles and duplicate ids at build', () => {
    expect(() =>
      definePolicy<RidesDb>()
        .role('a', { inherits: ['ghost'] }, (r) => r)
        .build(),
    ).toThrow(/'ghost', which is not defined/)
    expect(() =>
      definePolicy<RidesDb>()
        .role('a', { inherits: ['b'] }, (r) => r)
        .role('b', { inherits: ['a'] }, (r) => r)
        .build(),
    ).toThrow(/cycle/)
    expect(() =>
      definePolicy<RidesDb>()
        .allow('read', 'trip', true, { id: 'x' })
        .allow('read', 'trip', false, { id: 'x' })
        .build(),
    ).toThrow(/'x'/)
    expect(() => definePolicy<RidesDb>().fields('trip', 'ghost', ['id']).build()).toThrow(
      /'ghost', which is not a defined role/,
    )
  })

  it('refuses a null literal, pointing to isNull', () => {
    expect(() =>
      definePolicy<RidesDb>().allow('read', 'trip', (t) =>
        t.eq('driver_id', null as unknown as string),
      ),
    ).toThrow(/isNull/)
  })

  it('returns a new builder from every call', () => {
    const base = definePolicy<RidesDb>()
    const withRule = base.allow('read', 'trip', true)
    expect(base.build().rules).toHaveLength(0)
    expect(withRule.build().rules).toHaveLength(1)
  })
})

describe('AccessControl answers consistently', () => {
  const tenanted = new AccessControl({
    policy: definePolicy<RidesDb, RidesPrincipal, RidesAction>()
      .allow(['read', 'delete'], 'trip', true)
      .deny('delete', 'trip', (t) => t.eq('deleted', true))
      .tenant('trip', 'city_id', (p) => p.cityId)
      .build(),
  })

  it.each([
    ['the rides policy', access],
    ['a tenant-bounded policy', tenanted],
  ])('%s explains the decision can gives, and its capability bounds every row', (_name, access) => {
    fc.assert(
      fc.property(ridesWorlds, (world) => {
        const related = { trip_share: world.trip_share ?? [] }
        for (const principal of ridesPrincipals()) {
          for (const action of RIDES_ACTIONS) {
            const capability = access.can(principal, action, 'trip')
            for (const row of (world.trip ?? []) as unknown as TripTable[]) {
              const allowed = access.can(principal, action, 'trip', row, { related })
              expect(access.explain(principal, action, 'trip', row, { related }).decision).toBe(
                allowed,
              )
              if (capability === 'never') expect(allowed).toBe(false)
              if (capability === 'always') expect(allowed).toBe(true)
            }
          }
        }
      }),
      { numRuns: 100 },
    )
  })
})

describe('AccessControl.create on SQLite', () => {
  it('refuses a database without the function core registers, which links compare through', async () => {
    // A better-sqlite3-shaped wrapper of node:sqlite that registers nothing, as another driver.
    const raw = new DatabaseSync(':memory:')
    const database: SqliteDatabase = {
      close: () => raw.close(),
      prepare: (text) => {
        const statement = raw.prepare(text)
        const bound = (parameters: readonly unknown[]) => parameters as SQLInputValue[]
        return {
          reader: statement.columns().length > 0,
          all: (parameters) => statement.all(...bound(parameters)),
          run: (parameters) => statement.run(...bound(parameters)),
          iterate: (parameters) => statement.iterate(...bound(parameters)),
        }
      },
    }
    const db = new Kysely<RidesDb>({ dialect: new SqliteDialect({ database }) })
    try {
      const policy = definePolicy<RidesDb>().allow('read', 'trip', true).build()
      await expect(AccessControl.create({ policy, db })).rejects.toBeInstanceOf(PolicyDatabaseError)
    } finally {
      await db.destroy()
    }
  })
})
