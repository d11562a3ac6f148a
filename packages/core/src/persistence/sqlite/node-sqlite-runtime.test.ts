import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BuiltPackages, buildPackages } from '../../global/built-packages.js'

// A Node older than 22.13 on this machine (`which -a node`, then /usr/bin/node): the machines
// Mortar is developed and tested on keep their own Node 20 beside the pinned Node 24.
function olderNode(): { path: string; version: string } | undefined {
  let candidates: string[] = []
  try {
    candidates = execFileSync('which', ['-a', 'node'], { encoding: 'utf8' }).split('\n')
  } catch {
    // `which` found none, or is missing: /usr/bin/node is still worth a try.
  }
  for (const path of [...candidates, '/usr/bin/node']) {
    if (path.trim() === '') continue
    try {
      const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim()
      const [major = 0, minor = 0] = version.slice(1).split('.').map(Number)
      if (major < 22 || (major === 22 && minor < 13)) return { path, version }
    } catch {
      // Not an executable Node; try the next one.
    }
  }
  return undefined
}

const node = olderNode()
const skip = node === undefined ? 'no Node older than 22.13 on this machine' : undefined
if (skip !== undefined) console.info(`[skipped] SQLite on an old Node: ${skip}`)

// Skipped only on a machine with no Node before 22.13 to run (the reason is printed above);
// this project's machines and CI keep the system's Node 20, so it runs there.
describe.skipIf(skip !== undefined)(`SQLite on ${node?.version ?? 'an old Node'}`, () => {
  let built: BuiltPackages

  beforeAll(async () => {
    built = await buildPackages(['core'])
  }, 120_000)

  afterAll(async () => {
    await built?.dispose()
  })

  it('fails with E_DATABASE_DRIVER saying Node 22.13+ is needed for node:sqlite', async () => {
    const script = join(built.dir, 'old-node-sqlite.mjs')
    await writeFile(
      script,
      `await import('reflect-metadata')
const { createApp } = await import('@mortar/core')
const app = createApp({ database: 'sqlite::memory:', modules: [] })
try {
  await app.start()
  console.log(JSON.stringify({ started: true }))
} catch (error) {
  console.log(JSON.stringify({ name: error.name, code: error.code, status: error.status, message: error.message }))
}
`,
    )
    const output = execFileSync((node as { path: string }).path, [script], {
      cwd: built.dir,
      encoding: 'utf8',
    })
    const error = JSON.parse(output)
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'E_DATABASE_DRIVER', status: 500 })
    expect(error.message).toContain('SQLite needs Node 22.13 or newer')
    expect(error.message).toContain('node:sqlite')
    expect(error.message).toContain(`Node ${node?.version.slice(1)}`)
    expect(error.message).not.toContain('No such built-in module')
  })
})
