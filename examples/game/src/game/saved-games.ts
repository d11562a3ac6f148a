import type { Session, StateNamespace } from '@mortar/session'
import { type Game, newGame } from './tic-tac-toe.js'

/** What the game's session holds: an anonymous visitor's game. */
export interface GameSessionData {
  game?: Game | undefined
}

/** The current game and, for a logged-in player, the version to send back with the next move. */
export interface CurrentGame {
  readonly game: Game
  /** The state store version (0: never saved); undefined for an anonymous visitor. */
  readonly version: number | undefined
}

const KEY = 'current'

/**
 * Where a player's game lives: an anonymous visitor's in their sealed session cookie, a
 * logged-in player's in the state store (namespace `games`), so it follows them to any device.
 */
export class SavedGames {
  readonly #games: StateNamespace<Game>

  constructor(games: StateNamespace<Game>) {
    this.#games = games
  }

  /** The game to show, saved first for a new anonymous visitor so their cookie is set. */
  async current(session: Session<GameSessionData>): Promise<CurrentGame> {
    if (session.userId !== undefined) {
      const entry = await this.#games.get(session.userId, KEY)
      return { game: entry?.value ?? newGame(), version: entry?.version ?? 0 }
    }
    if (session.data.game === undefined) {
      session.data.game = newGame()
      await session.save()
    }
    return { game: session.data.game, version: undefined }
  }

  /**
   * Saves `game`. For a logged-in player the save is conditional on `version`: if another device
   * saved in between, it fails with `StateConflictError` (a 409) and nothing is lost.
   */
  async save(
    session: Session<GameSessionData>,
    game: Game,
    version: number | undefined,
  ): Promise<CurrentGame> {
    if (session.userId !== undefined) {
      const saved = await this.#games.put(session.userId, KEY, game, {
        expectedVersion: version ?? 0,
      })
      return { game: saved.value, version: saved.version }
    }
    session.data.game = game
    await session.save()
    return { game, version: undefined }
  }

  /**
   * Moves an anonymous visitor's game to the account they just logged in to: a game they have
   * started replaces the account's, and leaves the cookie.
   */
  async moveToAccount(session: Session<GameSessionData>): Promise<void> {
    const userId = session.userId
    const game = session.data.game
    if (userId === undefined || game === undefined) return
    if (game.moves > 0) {
      const stored = await this.#games.get(userId, KEY)
      await this.#games.put(userId, KEY, game, { expectedVersion: stored?.version ?? 0 })
    }
    session.data.game = undefined
    await session.save()
  }
}
