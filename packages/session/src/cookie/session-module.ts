import {
  CLOCK,
  defineModule,
  LOGGER,
  type Module,
  onBeforeResponse,
  onRequestStart,
  type Token,
  globalToken,
} from '@mortar/core'
import type { z } from 'zod'
import { resolveCsrfOptions } from '../csrf/csrf-guard.js'
import { SessionConfigError } from '../errors.js'
import { SESSION_REGISTRY, type SessionRegistry } from '../registry/session-registry.js'
import { type Session, session } from './session.js'
import { resolveSessionConfig, type SessionModuleOptions } from './session-config.js'
import { SessionEngine, type SessionEngineInit } from './session-engine.js'
import { SessionManager, SESSIONS } from './session-manager.js'

/** A module made by {@link sessionModule}, with an accessor typed by its schema. */
export type SessionModule<S extends z.ZodType> = Module & {
  /** The current request's session, its data typed by the module's schema. */
  readonly current: () => Session<z.output<S>>
}

// Internal: the engine is reached through the request hook and `session()`, never resolved by apps.
const SESSION_ENGINE: Token<SessionEngine> = globalToken<SessionEngine>('mortar.session.engine')

/**
 * Sealed cookie sessions on iron-session. Every request behind a Mortar HTTP adapter gets its
 * session loaded before the handler (from the cookie, checked against the schema, the expiry,
 * the registry and the CSRF guard), the `principal` slot filled by `resolvePrincipal`, and
 * {@link session} to reach it; the cookie is set once, just before the response is sent. Binds
 * {@link SESSIONS}. Throws `SessionConfigError` at once for a missing cookie name, a short secret
 * or a schema that refuses `{}`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createApp } from '@mortar/core'
 * import { mortarFastify } from '@mortar/core/fastify'
 * import { sessionModule } from '@mortar/session'
 * import { z } from 'zod'
 *
 * const sessions = sessionModule({
 *   cookieName: 'shop.session',
 *   password: process.env.SESSION_PASSWORD ?? '',
 *   schema: z.object({ cart: z.array(z.string()).default([]) }),
 *   resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
 * })
 * const app = createApp({ modules: [sessions] })
 * await app.start()
 * const fastify = Fastify()
 * await fastify.register(mortarFastify, { app })
 * fastify.post('/cart/:sku', async (request) => {
 *   const current = sessions.current()
 *   current.data.cart.push((request.params as { sku: string }).sku)
 *   await current.save()
 *   return { cart: current.data.cart }
 * })
 * ```
 */
export function sessionModule<S extends z.ZodType>(
  options: SessionModuleOptions<S>,
): SessionModule<S> {
  const config = resolveSessionConfig(options as SessionModuleOptions)
  const schema = options.schema
  if (typeof schema?.safeParse !== 'function') {
    throw new SessionConfigError('schema must be a zod schema of the session data.')
  }
  if (!schema.safeParse({}).success) {
    throw new SessionConfigError(
      'schema must accept an empty object, which is what a new session holds: make its fields optional or give them defaults.',
    )
  }
  const csrf =
    options.csrf === false
      ? undefined
      : resolveCsrfOptions(options.csrf, { httpsOnly: config.secure })
  const registryOption = options.registry
  const init = (
    clock: SessionEngineInit['clock'],
    logger: SessionEngineInit['logger'],
    registry: SessionRegistry | undefined,
  ): SessionEngine =>
    new SessionEngine({
      config,
      schema,
      clock,
      logger: logger.child({ module: 'session' }),
      registry,
      csrf,
      resolvePrincipal: options.resolvePrincipal as SessionEngineInit['resolvePrincipal'],
      onInvalidData: options.onInvalidData,
    })

  // One module value may serve several apps (tests do that): each app's hook is removed on its stop.
  const removers = new WeakMap<object, () => void>()
  const module = defineModule({
    name: 'session',
    register(binder) {
      if (registryOption === 'database' || registryOption === 'redis') {
        // Bound by databaseSessionRegistry() or redisSessionRegistry(); if the app forgot that
        // module, the start-up check says to add it (the token's whenMissing hint).
        binder.bind(SESSION_ENGINE, {
          inject: [CLOCK, LOGGER, SESSION_REGISTRY],
          useFactory: init,
        })
      } else {
        binder.bind(SESSION_ENGINE, {
          inject: [CLOCK, LOGGER],
          useFactory: (clock, logger) => init(clock, logger, registryOption),
        })
      }
      binder.bind(SESSIONS, {
        inject: [SESSION_ENGINE],
        useFactory: (engine) => new SessionManager(engine.registry),
      })
    },
    onStart(app) {
      refuseUnusedRegistry(registryOption, app.container.isRegistered(SESSION_REGISTRY, true), () =>
        app.resolve(SESSION_REGISTRY),
      )
      const engine = app.resolve(SESSION_ENGINE)
      const removeStart = onRequestStart(app, (context) => engine.load(context))
      const removeFinish = onBeforeResponse(app, (context) => engine.finish(context))
      removers.set(app, () => {
        removeStart()
        removeFinish()
      })
    },
    onStop(app) {
      removers.get(app)?.()
      removers.delete(app)
    },
  })
  return Object.freeze({ ...module, current: () => session() as Session<z.output<S>> })
}

/**
 * A registry the app binds but the sessions are not recorded in fails open: its device list
 * and "log out everywhere" miss every session, and a logout cannot revoke a copied cookie.
 */
function refuseUnusedRegistry(
  registryOption: SessionModuleOptions['registry'],
  bound: boolean,
  resolve: () => SessionRegistry,
): void {
  if (!bound || registryOption === 'database' || registryOption === 'redis') return
  if (registryOption === undefined)
    throw new SessionConfigError(
      "The app binds SESSION_REGISTRY (a databaseSessionRegistry(), redisSessionRegistry() or memorySessionRegistry() module) but sessionModule has no registry, so no login would be recorded there: pass sessionModule({ registry: 'database' }) ('redis' for Redis; either takes the bound registry), or remove the registry module.",
    )
  if (resolve() !== registryOption)
    throw new SessionConfigError(
      "sessionModule records sessions in the registry instance it was given, but the app binds another one under SESSION_REGISTRY, which would list and revoke none of them: pass registry: 'database' to use the bound one, or bind SESSION_REGISTRY to the same instance ({ useValue: registry }).",
    )
}
