import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const shapeModule = fileURLToPath(new URL('./next-tick-shape.ts', import.meta.url))

// A child process, because it needs V8's natives syntax and forced full GCs. Node 24 runs the
// TypeScript source directly (type stripping).
const probe = `
import { executionAsyncResource } from 'node:async_hooks'
const { holdNextTickShape } = await import(${JSON.stringify(shapeModule)})
holdNextTickShape()
holdNextTickShape()
const nextTickObject = () => new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())))
await nextTickObject()
const held = globalThis[Symbol.for('mortar.heldTick')]
// Full GCs with no tick queued: each one would drop the literal's cached map if nothing held it.
for (let round = 0; round < 6; round += 1) {
  await nextTickObject()
  globalThis.gc()
}
const after = await nextTickObject()
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)')
console.log(JSON.stringify({ held: held !== undefined, sameMap: sameMap(held, after) }))
`

describe('holdNextTickShape', () => {
  it('keeps the map of process.nextTick tick objects across full GCs', () => {
    const result = spawnSync(
      process.execPath,
      ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '--eval', probe],
      { encoding: 'utf8' },
    )
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout)).toEqual({ held: true, sameMap: true })
  })
})
