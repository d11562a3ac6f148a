// Type-checks the packages as one program and each example as a program of its own: an example
// is an app, and its declaration merges (its Principal, its events) must not meet another's.
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const projects = [
  'tsconfig.json',
  ...readdirSync(join(root, 'examples')).map((name) => join('examples', name, 'tsconfig.json')),
]
let failed = false
for (const project of projects) {
  try {
    execFileSync('npx', ['tsc', '-p', project, '--noEmit'], { stdio: 'inherit', cwd: root })
  } catch {
    console.error(`typecheck: ${project} has type errors`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
