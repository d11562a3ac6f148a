import { MortarError } from '@mortar/core'
import { z } from 'zod'

/**
 * A game as it is saved (in the session, or in the state store once the player logged in):
 * nine cells `x` (the player), `o` (the server) or `.`, row by row.
 */
export const gameSchema = z.object({
  board: z.string().regex(/^[xo.]{9}$/),
  status: z.enum(['playing', 'won', 'lost', 'draw']),
  moves: z.number().int().min(0).max(9),
})

export type Game = z.output<typeof gameSchema>

/** 422: the move is not allowed (the cell is taken, out of the board, or the game is over). */
export class IllegalMoveError extends MortarError {
  constructor(reason: string) {
    super('E_GAME_ILLEGAL_MOVE', 422, `That move is not allowed: ${reason}.`)
  }
}

const LINES = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
] as const

/** An empty board, the player to move. */
export function newGame(): Game {
  return { board: '.........', status: 'playing', moves: 0 }
}

/** The player (`x`) takes `cell` (0–8); the server (`o`) answers unless the game ended. */
export function playMove(game: Game, cell: number): Game {
  if (game.status !== 'playing') throw new IllegalMoveError('the game is over; start a new one')
  if (!Number.isInteger(cell) || cell < 0 || cell > 8) {
    throw new IllegalMoveError('cells are numbered 0 to 8')
  }
  if (game.board[cell] !== '.') throw new IllegalMoveError(`cell ${cell} is taken`)
  let board = place(game.board, cell, 'x')
  let moves = game.moves + 1
  if (winner(board) === 'x') return { board, status: 'won', moves }
  if (!board.includes('.')) return { board, status: 'draw', moves }
  board = place(board, serverMove(board), 'o')
  moves++
  if (winner(board) === 'o') return { board, status: 'lost', moves }
  return { board, status: board.includes('.') ? 'playing' : 'draw', moves }
}

function place(board: string, cell: number, mark: 'x' | 'o'): string {
  return board.slice(0, cell) + mark + board.slice(cell + 1)
}

function winner(board: string): 'x' | 'o' | undefined {
  for (const [a, b, c] of LINES) {
    const mark = board[a]
    if (mark !== '.' && mark === board[b] && mark === board[c]) return mark as 'x' | 'o'
  }
  return undefined
}

/** The server's move: win, else block, else centre, corners, sides. Deterministic, so testable. */
function serverMove(board: string): number {
  for (const mark of ['o', 'x'] as const) {
    for (const line of LINES) {
      const cells = line.map((cell) => board[cell])
      if (cells.filter((value) => value === mark).length === 2 && cells.includes('.')) {
        return line[cells.indexOf('.')] as number
      }
    }
  }
  for (const cell of [4, 0, 2, 6, 8, 1, 3, 5, 7]) if (board[cell] === '.') return cell
  throw new Error('serverMove called on a full board')
}
