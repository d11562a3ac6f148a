// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import { z } from 'zod'
import type { StateStore } from './state-store.js'

declare const state: StateStore

const games = state.namespace(
  'games',
  z.object({ board: z.string(), turn: z.enum(['x', 'o']).default('x') }),
)

export async function accepted(): Promise<void> {
  // The input type: defaulted fields may be left out.
  await games.put('user-1', 'current', { board: '.........' })
  await games.put('user-1', 'current', { board: '.........', turn: 'o' }, { expectedVersion: 2 })
  const entry = await games.get('user-1', 'current')
  // The output type: defaults applied, so `turn` is always there.
  const turn: 'x' | 'o' | undefined = entry?.value.turn
  const version: number | undefined = entry?.version
  const entries = await games.list('user-1')
  const boards: string[] = entries.map((item) => item.value.board)
  void [turn, version, boards]
}

export async function rejected(): Promise<void> {
  // @ts-expect-error a value of the wrong shape
  await games.put('user-1', 'current', { board: 9 })
  // @ts-expect-error a value missing a required field
  await games.put('user-1', 'current', { turn: 'x' })
  // @ts-expect-error a turn the schema does not allow
  await games.put('user-1', 'current', { board: '.........', turn: 'z' })
  // @ts-expect-error options are an object, not a bare version
  await games.put('user-1', 'current', { board: '.........' }, 2)
  const entry = await games.get('user-1', 'current')
  // @ts-expect-error the entry may be undefined
  void entry.value
}
