import {
  type App,
  createApp,
  databaseToken,
  resolveDatabase,
  token,
  transaction,
} from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { ACCESS_CONTROL, Public } from '../authorize/authorize.js'
import {
  createRidesTables,
  type RidesAction,
  type RidesDb,
  type RidesPrincipal,
  ridesPolicy,
} from '../testing/rides-fixture.js'
import { AccessControl } from './access-control.js'
import { accessControlModule, type AccessControlModuleOptions } from './access-control-module.js'

const DB = databaseToken<RidesDb>()
const rider: RidesPrincipal = { id: 'u1', roles: ['rider'], cityId: 1 }

class CityController {
  // Reads a protected table on purpose: the route serves a public departures board.
  @Public()
  async board() {
    return listTrips()
  }
}

function listTrips() {
  return resolveDatabase<RidesDb>(currentApp)
    .selectFrom('trip')
    .select(['id', 'rider_id'])
    .execute()
}

let currentApp: App<undefined>
let close: (() => Promise<void>) | undefined

afterEach(async () => {
  await close?.()
  close = undefined
})

// A real app on SQLite in memory with the access-control module, served by Fastify on loopback.
async function serve(
  verify: Pick<AccessControlModuleOptions<RidesDb, RidesPrincipal, string>, 'verifyAuthorized'>,
): Promise<string> {
  const app = createApp({
    database: 'sqlite::memory:',
    modules: [accessControlModule({ policy: ridesPolicy, database: DB, ...verify })],
  })
  currentApp = app
  await app.start()
  const db = resolveDatabase<RidesDb>(app)
  await createRidesTables(db)
  await db
    .insertInto('trip')
    .values([
      {
        id: 1,
        rider_id: 'u1',
        driver_id: null,
        city_id: 1,
        status: 'requested',
        fare: 10,
        deleted: false,
      },
      {
        id: 2,
        rider_id: 'u2',
        driver_id: null,
        city_id: 1,
        status: 'requested',
        fare: 12,
        deleted: false,
      },
    ])
    .execute()
  const access = app.resolve(ACCESS_CONTROL)
  const fastify = Fastify()
  await fastify.register(mortarFastify, { app })
  fastify.get('/trips/unchecked', async () => listTrips())
  fastify.get('/trips/in-transaction', async () => transaction(() => listTrips()))
  fastify.get('/trips/mine', async () =>
    access
      .filter(db.selectFrom('trip').select(['id', 'rider_id']), rider, 'read', 'trip')
      .execute(),
  )
  fastify.get('/board', async () => new CityController().board())
  fastify.get('/health', async () => ({ ok: true }))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  close = async () => {
    await fastify.close()
    await app.stop()
  }
  return `http://127.0.0.1:${address.port}`
}

describe('accessControlModule verification', () => {
  it('fails a request that read a protected table without authorizing, sending none of it', async () => {
    const url = await serve({})
    for (const path of ['/trips/unchecked', '/trips/in-transaction']) {
      const response = await fetch(`${url}${path}`)
      expect(response.status).toBe(500)
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const text = await response.text()
      expect(text).not.toContain('u2')
      expect(JSON.parse(text)).toMatchObject({ status: 500, code: 'E_AUTH_NOT_VERIFIED' })
    }
  })

  it('lets through a request that authorized, was marked public, or read nothing protected', async () => {
    const url = await serve({})
    const mine = await fetch(`${url}/trips/mine`)
    expect(mine.status).toBe(200)
    expect(await mine.json()).toEqual([{ id: 1, rider_id: 'u1' }])
    const board = await fetch(`${url}/board`)
    expect(board.status).toBe(200)
    expect(await board.json()).toHaveLength(2)
    expect((await fetch(`${url}/health`)).status).toBe(200)
  })

  it('with strict, fails a request that made no authorization call at all', async () => {
    const url = await serve({ verifyAuthorized: { strict: true } })
    const response = await fetch(`${url}/health`)
    expect(response.status).toBe(500)
    expect(await response.json()).toMatchObject({ code: 'E_AUTH_NOT_VERIFIED' })
    expect((await fetch(`${url}/trips/mine`)).status).toBe(200)
  })

  it('checks nothing in production', async () => {
    const previous = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      const url = await serve({})
      const response = await fetch(`${url}/trips/unchecked`)
      expect(response.status).toBe(200)
      expect(await response.json()).toHaveLength(2)
    } finally {
      process.env.NODE_ENV = previous
    }
  })

  it('checks nothing when turned off', async () => {
    const url = await serve({ verifyAuthorized: false })
    expect((await fetch(`${url}/trips/unchecked`)).status).toBe(200)
  })

  it('binds a typed token of the app to the same AccessControl', async () => {
    const RIDES_ACCESS = token<AccessControl<RidesDb, RidesPrincipal, RidesAction>>('test.access')
    const app = createApp({
      database: 'sqlite::memory:',
      modules: [accessControlModule({ policy: ridesPolicy, token: RIDES_ACCESS })],
    })
    await app.start()
    try {
      expect(app.resolve(RIDES_ACCESS)).toBeInstanceOf(AccessControl)
      expect(app.resolve(RIDES_ACCESS)).toBe(app.resolve(ACCESS_CONTROL))
    } finally {
      await app.stop()
    }
  })
})
