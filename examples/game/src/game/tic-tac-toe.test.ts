import { describe, expect, it } from 'vitest'
import { gameSchema, newGame, playMove } from './tic-tac-toe.js'

describe('playMove', () => {
  it("places the player's x and the server's answer", () => {
    expect(playMove(newGame(), 0)).toEqual({ board: 'x...o....', status: 'playing', moves: 2 })
  })

  it('lets the server block a line the player is about to complete', () => {
    const game = playMove(playMove(newGame(), 0), 1) // x x . / . o . / . . .
    expect(game.board[2]).toBe('o')
  })

  it('lets the server win when it can', () => {
    // x x o / . o . / . . . → the player plays 8; o completes 2-4-6.
    const game = playMove({ board: 'xxo.o....', status: 'playing', moves: 4 }, 8)
    expect(game).toEqual({ board: 'xxo.o.o.x', status: 'lost', moves: 6 })
  })

  it('reports a win for the player', () => {
    const game = playMove({ board: 'xx.oo....', status: 'playing', moves: 4 }, 2)
    expect(game.status).toBe('won')
    expect(game.board).toBe('xxxoo....')
  })

  it('refuses a taken cell, a cell off the board and a move after the end', () => {
    const game = playMove(newGame(), 0)
    expect(() => playMove(game, 0)).toThrow(
      expect.objectContaining({ code: 'E_GAME_ILLEGAL_MOVE' }),
    )
    expect(() => playMove(game, 9)).toThrow(expect.objectContaining({ status: 422 }))
    expect(() => playMove({ ...game, status: 'won' }, 5)).toThrow(/game is over/)
  })

  it('always yields a board the saved-game schema accepts', () => {
    let game = newGame()
    for (const cell of [0, 1, 2, 3, 5, 6, 7, 8]) {
      if (game.status !== 'playing' || game.board[cell] !== '.') continue
      game = playMove(game, cell)
      expect(gameSchema.safeParse(game).success).toBe(true)
    }
    expect(game.status).not.toBe('playing')
  })
})
