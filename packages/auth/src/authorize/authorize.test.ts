import {
  createApp,
  Database,
  RequestContext,
  type RequestScope,
  runInRequestContext,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { accessControlModule } from '../access-control/access-control-module.js'
import { AccessDeniedError, AuthorizationNotVerifiedError } from '../errors.js'
import {
  createRidesTables,
  type RidesAction,
  type RidesDb,
  type RidesPrincipal,
  ridesPolicy,
  type TripTable,
} from '../testing/rides-fixture.js'
import { AuthorizationGuardPlugin } from './authorization-guard-plugin.js'
import { isAuthorizationVerified } from './authorization-record.js'
import { ACCESS_CONTROL, Authorize, Public } from './authorize.js'
import { VerifyAuthorized, verifyAuthorized } from './verify-authorized.js'

const access = new AccessControl({ policy: ridesPolicy })

function inRequest<R>(principal: RidesPrincipal | undefined, fn: () => R): R {
  const scope: RequestScope = {
    resolve: <T>() => access as T,
    dispose: async () => {},
  }
  const context = new RequestContext({ createScope: () => scope })
  // The app's Principal type is declared by the app; these tests use the rides principal.
  if (principal !== undefined) context.set('principal', principal as never)
  return runInRequestContext(context, fn)
}

const trip: TripTable = {
  id: 1,
  rider_id: 'ann',
  driver_id: null,
  city_id: 1,
  status: 'requested',
  fare: 100,
  deleted: false,
}

class TripService {
  calls = 0

  @Authorize('cancel', 'trip', { row: (row: TripTable) => row })
  async cancel(row: TripTable): Promise<number> {
    this.calls += 1
    return row.id
  }

  @Authorize('accept', 'trip')
  async openRequests(): Promise<string> {
    return 'listed'
  }
}

describe('@Authorize', () => {
  it('runs the method when the principal in the request context may act on the row', async () => {
    const service = new TripService()
    const result = await inRequest({ id: 'ann', roles: ['rider'], cityId: 1 }, () =>
      service.cancel(trip),
    )
    expect(result).toBe(1)
    expect(service.calls).toBe(1)
  })

  it('throws the policy’s denial and never runs the method otherwise', async () => {
    const service = new TripService()
    const error = await inRequest({ id: 'bob', roles: ['rider'], cityId: 1 }, () =>
      service.cancel(trip),
    ).catch((e) => e)
    expect(error).toBeInstanceOf(AccessDeniedError)
    expect(service.calls).toBe(0)
  })

  it('answers an anonymous caller with 401 and a call outside a request with 401', async () => {
    const service = new TripService()
    await expect(inRequest(undefined, () => service.cancel(trip))).rejects.toMatchObject({
      status: 401,
    })
    await expect(service.cancel(trip)).rejects.toMatchObject({ status: 401 })
  })

  it('denies, never runs the method, when its row option finds no row', async () => {
    const service = new TripService()
    const ann = { id: 'ann', roles: ['rider'], cityId: 1 }
    const missing = undefined as unknown as TripTable
    await expect(inRequest(ann, () => service.cancel(missing))).rejects.toBeInstanceOf(
      AccessDeniedError,
    )
    expect(service.calls).toBe(0)
  })

  it('without a row, passes when the action is possible on some rows', async () => {
    const service = new TripService()
    const driver = { id: 'dan', roles: ['driver'], cityId: 1 }
    await expect(inRequest(driver, () => service.openRequests())).resolves.toBe('listed')
    await expect(
      inRequest({ id: 'ann', roles: ['rider'], cityId: 1 }, () => service.openRequests()),
    ).rejects.toBeInstanceOf(AccessDeniedError)
  })
})

describe('verifying authorization', () => {
  let database: Database<RidesDb>
  let db: Kysely<RidesDb>
  let filtering: AccessControl<RidesDb, RidesPrincipal, RidesAction>

  beforeAll(async () => {
    database = new Database<RidesDb>('sqlite::memory:')
    await createRidesTables(database.kysely)
    await database.kysely.insertInto('trip').values(trip).execute()
    db = database.kysely.withPlugin(new AuthorizationGuardPlugin({ tables: ridesPolicy.resources }))
    filtering = await AccessControl.create({ policy: ridesPolicy, db: database.kysely })
  })

  afterAll(() => database.destroy())

  const ann: RidesPrincipal = { id: 'ann', roles: ['rider'], cityId: 1 }

  class TripController {
    @VerifyAuthorized({ enabled: true })
    async unchecked() {
      return db.selectFrom('trip').selectAll().execute()
    }

    @VerifyAuthorized({ enabled: true })
    async filtered() {
      return filtering.filter(db.selectFrom('trip').selectAll(), ann, 'read', 'trip').execute()
    }

    @VerifyAuthorized({ enabled: true })
    @Public()
    async open() {
      return db.selectFrom('trip').select('id').execute()
    }

    @VerifyAuthorized({ enabled: true })
    async deeplyNested() {
      // A protected table twenty derived tables down: each builder shows its own node to the
      // guard (Kysely runs plugins per builder), so no nesting hides it.
      let query = db.selectFrom('trip').select('id')
      for (let level = 0; level < 20; level++) {
        query = db.selectFrom(query.as(`t${level}`)).select('id') as unknown as typeof query
      }
      return query.execute()
    }

    @VerifyAuthorized({ enabled: true })
    async deleteUnchecked() {
      return db.deleteFrom('trip').where('id', '=', 999).execute()
    }

    @VerifyAuthorized({ enabled: true })
    async updateUnchecked() {
      return db.updateTable('trip').set({ status: 'done' }).where('id', '=', 999).execute()
    }

    @VerifyAuthorized({ enabled: true })
    async insertUnchecked() {
      return db
        .insertInto('trip')
        .values({ ...trip, id: 999 })
        .execute()
    }

    @VerifyAuthorized({ enabled: true })
    async unprotected() {
      return db.selectFrom('trip_share').selectAll().execute()
    }
  }

  it('fails a request that read a protected table without any authorization call', async () => {
    const controller = new TripController()
    await expect(inRequest(ann, () => controller.unchecked())).rejects.toBeInstanceOf(
      AuthorizationNotVerifiedError,
    )
    await expect(inRequest(ann, () => controller.deeplyNested())).rejects.toBeInstanceOf(
      AuthorizationNotVerifiedError,
    )
  })

  it('fails a request that changed a protected table without any authorization call', async () => {
    const controller = new TripController()
    const changes: (() => Promise<unknown>)[] = [
      () => controller.deleteUnchecked(),
      () => controller.updateUnchecked(),
      () => controller.insertUnchecked(),
    ]
    for (const change of changes) {
      await expect(inRequest(ann, change)).rejects.toBeInstanceOf(AuthorizationNotVerifiedError)
    }
    // The check follows the handler (a detector for tests): the insert took place.
    await database.kysely.deleteFrom('trip').where('id', '=', 999).execute()
  })

  it('passes a request that filtered its query, one marked public, and one that read no protected table', async () => {
    const controller = new TripController()
    await expect(inRequest(ann, () => controller.filtered())).resolves.toHaveLength(1)
    await expect(inRequest(ann, () => controller.open())).resolves.toHaveLength(1)
    await expect(inRequest(ann, () => controller.unprotected())).resolves.toEqual([])
  })

  it('in strict mode, requires an authorization call in every request', () => {
    expect(() => inRequest(ann, () => verifyAuthorized({ enabled: true, strict: true }))).toThrow(
      AuthorizationNotVerifiedError,
    )
    expect(
      inRequest(ann, () => {
        access.can(ann, 'read', 'trip')
        verifyAuthorized({ enabled: true, strict: true })
        return isAuthorizationVerified()
      }),
    ).toBe(true)
  })

  it('does nothing when disabled, as in production', async () => {
    expect(() =>
      inRequest(ann, () => verifyAuthorized({ enabled: false, strict: true })),
    ).not.toThrow()
  })
})

describe('accessControlModule', () => {
  it('lets @Authorize resolve the app’s AccessControl from the request scope', async () => {
    const app = createApp({
      database: 'sqlite::memory:',
      modules: [accessControlModule({ policy: ridesPolicy })],
    })
    await app.start()
    try {
      const context = new RequestContext({ createScope: () => app.createScope() })
      context.set('principal', { id: 'bob', roles: ['rider'], cityId: 1 } as never)
      const service = new TripService()
      await expect(runInRequestContext(context, () => service.cancel(trip))).rejects.toBeInstanceOf(
        AccessDeniedError,
      )
      await context.dispose()
    } finally {
      await app.stop()
    }
  })

  it('binds ACCESS_CONTROL to an AccessControl over the policy and the app database', async () => {
    const app = createApp({
      database: 'sqlite::memory:',
      modules: [accessControlModule({ policy: ridesPolicy })],
    })
    await app.start()
    try {
      const bound = app.resolve(ACCESS_CONTROL)
      expect(bound).toBeInstanceOf(AccessControl)
      expect(bound.policy).toBe(ridesPolicy)
      // Filters compile for the app's database, which the module took without being told.
      expect(() => bound.where(undefined, 'read', 'trip')).not.toThrow()
    } finally {
      await app.stop()
    }
  })

  it('refuses to start in an app without a database when none is named', async () => {
    const app = createApp({ modules: [accessControlModule({ policy: ridesPolicy })] })
    await expect(app.start()).rejects.toThrow(/mortar\.kysely/)
  })
})
