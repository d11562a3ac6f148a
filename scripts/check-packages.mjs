// Runs publint and @arethetypeswrong/cli on every built workspace package.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const packagesDir = join(root, 'packages')
let failed = false

for (const name of readdirSync(packagesDir).sort()) {
  const dir = join(packagesDir, name)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  if (!manifest.scripts?.build) continue
  if (!existsSync(join(dir, 'dist'))) {
    console.error(`check:packages: ${manifest.name} has no dist/; run npm run build first`)
    failed = true
    continue
  }
  for (const [tool, args] of [
    ['publint', ['publint', '--strict', dir]],
    ['attw', ['attw', '--pack', dir, '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync('npx', args, { stdio: 'inherit', cwd: root })
    } catch {
      console.error(`check:packages: ${tool} failed for ${manifest.name}`)
      failed = true
    }
  }
}

process.exit(failed ? 1 : 0)
