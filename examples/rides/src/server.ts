import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { loginThrottleModule, PASSWORD_HASHER, type PasswordHasher } from '@mortar/auth'
import { type App, createApp, requestContext, resolveDatabase } from '@mortar/core'
import { useMortar } from '@mortar/core/hono'
import { databaseSessionRegistry, sessionModule } from '@mortar/session'
import { Hono } from 'hono'
import { z } from 'zod'
import type { RidesConfig } from './config.js'
import {
  authRoutes,
  RIDES_DB,
  type RidesDb,
  ridesAccessModule,
  ridesModule,
  seedRides,
  tripRoutes,
} from './rides/index.js'

/** The rides app: a Mortar app and the Hono app in front of it. */
export interface RidesServer {
  readonly app: App<RidesConfig>
  readonly hono: Hono
}

/** Options of {@link buildRides}, for tests. */
export interface BuildRidesOptions {
  /** The password hasher; OWASP's scrypt cost by default. */
  readonly hasher?: PasswordHasher
}

/** A listening rides server: its base URL, and how to close it (server first, then the app). */
export interface ListeningRides {
  readonly url: string
  close(): Promise<void>
}

/**
 * Builds the rides app: migrates and seeds its database, starts the Mortar app, and mounts the
 * routes on Hono behind `useMortar`. It does not listen; see {@link listen}.
 */
export async function buildRides(
  config: RidesConfig,
  options: BuildRidesOptions = {},
): Promise<RidesServer> {
  const sessions = sessionModule({
    // Its own name: another app on this host (the shop, the game) must not read it.
    cookieName: 'rides.session',
    password: config.sessionPassword,
    schema: z.object({}),
    // Logged-in sessions are recorded, so logout revokes the session, not only its cookie.
    registry: 'database',
    // The role is read from the database on each request, so a demoted admin is demoted at once.
    resolvePrincipal: async (_data, { userId }) => {
      if (userId === undefined) return undefined
      const user = await resolveDatabase<RidesDb>(requestContext())
        .selectFrom('users')
        .select(['id', 'role'])
        .where('id', '=', userId)
        .executeTakeFirst()
      return user === undefined ? undefined : { id: user.id, roles: [user.role] }
    },
  })
  const app = createApp({
    config,
    database: config.databaseUrl,
    modules: [
      ridesModule({ hasher: options.hasher }),
      ridesAccessModule(),
      loginThrottleModule({ store: 'database' }),
      databaseSessionRegistry(),
      sessions,
    ],
  })
  await app.migrate()
  await app.start()
  await seedRides(app.resolve(RIDES_DB), {
    hasher: app.resolve(PASSWORD_HASHER),
    password: config.demoPassword.reveal(),
  })

  const hono = new Hono()
  // Every answer is someone's trips, account or a refusal: none is kept by a cache, so Back
  // after a logout on a shared computer shows nothing of them.
  hono.use(async (c, next) => {
    await next()
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store')
  })
  useMortar(hono, app)
  hono.route('/', authRoutes(app))
  hono.route('/', tripRoutes(app))
  return { app, hono }
}

/** Serves the rides app through @hono/node-server on `port` (0 picks a free one). */
export function listen(
  rides: RidesServer,
  options: { port: number; host: string },
): Promise<ListeningRides> {
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: rides.hono.fetch, port: options.port, hostname: options.host },
      (info: AddressInfo) => {
        resolve({
          url: `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}`,
          async close() {
            // The server closes first so no request runs against a stopped app.
            await new Promise<void>((done, fail) =>
              server.close((error) => (error ? fail(error) : done())),
            )
            await rides.app.stop()
          },
        })
      },
    )
    // A port in use (EADDRINUSE) rejects instead of crashing the process.
    server.once('error', reject)
  })
}
