// Test support, not part of the API: builds workspace packages the way `npm run build` does
// (tsup, ESM and CJS, minus declaration files) into a throwaway node_modules, so a child Node
// process can load the real dist of each package, in both formats, without a prior build.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The repository root. */
export const REPOSITORY_ROOT = join(import.meta.dirname, '../../../..')

/** Packages built into a directory whose `node_modules/@mortar/<name>` holds each one. */
export interface BuiltPackages {
  /** Run child processes here: `@mortar/*` resolves to the builds, anything else to the repository's node_modules. */
  readonly dir: string
  /** Deletes the builds. */
  dispose(): Promise<void>
}

/**
 * Builds `names` (folders of `packages/`) with their own tsup config into a fresh directory
 * inside the repository's `node_modules/.cache`, so that their dependencies resolve from the
 * repository as an installed app's would.
 */
export async function buildPackages(names: readonly string[]): Promise<BuiltPackages> {
  const dir = join(
    REPOSITORY_ROOT,
    'node_modules/.cache',
    `mortar-built-${process.pid}-${randomBytes(4).toString('hex')}`,
  )
  const dispose = () => rm(dir, { recursive: true, force: true })
  try {
    for (const name of names) {
      const source = join(REPOSITORY_ROOT, 'packages', name)
      const target = join(dir, 'node_modules/@mortar', name)
      await mkdir(target, { recursive: true })
      await copyFile(join(source, 'package.json'), join(target, 'package.json'))
      // tsup's build() reads the package's tsup.config.ts from the working directory.
      const script = `const { build } = await import('tsup'); await build({ outDir: ${JSON.stringify(
        join(target, 'dist'),
      )}, dts: false, sourcemap: false, silent: true })`
      await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: source,
        maxBuffer: 16 * 1024 * 1024,
      })
    }
  } catch (error) {
    await dispose()
    throw error
  }
  return { dir, dispose }
}
