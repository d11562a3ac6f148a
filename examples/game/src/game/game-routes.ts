import { createHash, timingSafeEqual } from 'node:crypto'
import {
  BadRequestError,
  MAX_SQL_INTEGER,
  type Secret,
  safeText,
  UnauthorizedError,
  ValidationError,
} from '@mortar/core'
import { type Session, StateConflictError } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { GameSessionData, SavedGames } from './saved-games.js'
import { newGame, playMove } from './tic-tac-toe.js'

/** What the game routes need. */
export interface GameRoutesOptions {
  readonly games: SavedGames
  readonly session: () => Session<GameSessionData>
  /** The password of every demo account; a real app checks users with @mortar/auth. */
  readonly demoPassword: Secret<string>
}

// A version is a stored INTEGER: past its range it could never match, and the database refuses it.
const gameVersion = z.number().int().min(0).max(MAX_SQL_INTEGER).optional()
const moveBody = z.object({ cell: z.number().int(), version: gameVersion })
const loginBody = z.object({
  username: z.string().regex(/^[a-z0-9_-]{1,40}$/),
  password: safeText({ max: 200 }),
})

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw ValidationError.fromZod(parsed.error)
  return parsed.data
}

function samePassword(given: string, expected: string): boolean {
  // Compare digests in constant time, so the length of the password does not leak either.
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/**
 * The game over HTTP. Every answer carries the game, its version (for a logged-in player), who
 * is playing and the CSRF token to send as `x-csrf-token` with the next POST.
 */
export async function gameRoutes(
  server: FastifyInstance,
  options: GameRoutesOptions,
): Promise<void> {
  const { games, session } = options
  const answer = (current: { game: unknown; version: number | undefined }) => ({
    game: current.game,
    version: current.version ?? null,
    user: session().userId ?? null,
    csrfToken: session().csrfToken(),
  })

  server.get('/game', async () => answer(await games.current(session())))

  server.post('/game/moves', async (request) => {
    const { cell, version } = parse(moveBody, request.body)
    const current = await games.current(session())
    // A move made on a board this device saw before another device moved is refused as such,
    // not judged against a board the player has not seen.
    if (version !== undefined && current.version !== undefined && version !== current.version) {
      throw new StateConflictError({
        namespace: 'games',
        key: 'current',
        expectedVersion: version,
        actualVersion: current.version,
      })
    }
    const next = playMove(current.game, cell)
    return answer(await games.save(session(), next, current.version))
  })

  server.post('/game/new', async (request) => {
    const version = parse(z.object({ version: gameVersion }), request.body ?? {}).version
    const current = await games.current(session())
    return answer(await games.save(session(), newGame(), version ?? current.version))
  })

  server.post('/login', async (request) => {
    const { username, password } = parse(loginBody, request.body)
    if (!samePassword(password, options.demoPassword.reveal())) {
      throw new UnauthorizedError('Wrong username or password.')
    }
    await session().login(username)
    await games.moveToAccount(session())
    return answer(await games.current(session()))
  })

  server.post('/logout', async () => {
    if (session().userId === undefined) throw new BadRequestError('Nobody is logged in.')
    await session().logout()
    return answer(await games.current(session()))
  })
}
