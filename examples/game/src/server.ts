import 'reflect-metadata'
import { type App, createApp } from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import { databaseSessionRegistry, STATE_STORE, sessionModule, stateModule } from '@mortar/session'
import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { GameConfig } from './config.js'
import { gameRoutes } from './game/game-routes.js'
import { SavedGames } from './game/saved-games.js'
import { gameSchema } from './game/tic-tac-toe.js'

/** The game: a Mortar app and the Fastify server in front of it. */
export interface GameServer {
  readonly app: App<GameConfig>
  readonly server: FastifyInstance
}

/**
 * Builds the game, migrates its database and starts the app without listening, so tests can
 * listen on any port.
 */
export async function buildGame(config: GameConfig): Promise<GameServer> {
  const sessions = sessionModule({
    // Its own name: another app on this host (the shop, rides) must not read it.
    cookieName: 'game.session',
    password: config.sessionPassword,
    schema: z.object({ game: gameSchema.optional() }),
    // Logged-in sessions are recorded, so they can be listed and revoked.
    registry: 'database',
    resolvePrincipal: (_data, { userId }) => (userId === undefined ? undefined : { id: userId }),
  })
  const app = createApp({
    config,
    database: config.databaseUrl,
    modules: [databaseSessionRegistry(), stateModule(), sessions],
  })
  await app.migrate()
  await app.start()

  const games = new SavedGames(app.resolve(STATE_STORE).namespace('games', gameSchema))
  const server = Fastify()
  await server.register(mortarFastify, { app })
  // Every answer is a player's board or a refusal: none is kept by a cache, so Back after a
  // logout on a shared computer shows nothing of it.
  server.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    return payload
  })
  await server.register(gameRoutes, {
    games,
    session: sessions.current,
    demoPassword: config.demoPassword,
  })
  // The server closes first so no request runs against a stopped app.
  server.addHook('onClose', async () => {
    await app.stop()
  })
  return { app, server }
}
