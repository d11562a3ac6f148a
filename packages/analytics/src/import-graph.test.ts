import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = dirname(fileURLToPath(import.meta.url))

/** The package's source modules (tests aside), by path. */
function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return modules(path)
    return entry.name.endsWith('.ts') && !/\.test(-d)?\.ts$/.test(entry.name) ? [path] : []
  })
}

/**
 * The relative modules `path` imports or re-exports at run time: an import whose every name is
 * `type` is erased by the compiler, so it orders nothing.
 */
function valueImports(path: string): string[] {
  const text = readFileSync(path, 'utf8')
  const found: string[] = []
  for (const match of text.matchAll(
    /^(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+'(\.[^']+)'/gms,
  )) {
    const [, typeOnly, names = '', target = ''] = match
    if (typeOnly !== undefined) continue
    const list = /\{([^}]*)\}/.exec(names)?.[1]
    const erased =
      list !== undefined &&
      !/^[^{]*\w[^{]*\{/.test(names) &&
      list
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '')
        .every((name) => name.startsWith('type '))
    if (!erased) found.push(resolve(dirname(path), target.replace(/\.js$/, '.ts')))
  }
  return found
}

describe('the analytics import graph', () => {
  it('has no cycle of run-time imports: each module loads after everything it uses', () => {
    const graph = new Map(modules(SRC).map((path) => [path, valueImports(path)]))
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const stack: string[] = []
    const visit = (path: string) => {
      state.set(path, 'open')
      stack.push(path)
      for (const next of graph.get(path) ?? []) {
        if (state.get(next) === 'open') {
          cycles.push(
            [...stack.slice(stack.indexOf(next)), next].map((p) => relative(SRC, p)).join(' -> '),
          )
        } else if (!state.has(next)) visit(next)
      }
      stack.pop()
      state.set(path, 'done')
    }
    for (const path of graph.keys()) if (!state.has(path)) visit(path)
    expect(graph.size).toBeGreaterThan(50)
    expect(cycles).toEqual([])
  })
})
