import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './run-cli.js'

const src = resolve(import.meta.dirname, '..')

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l), env },
  }
}

describe('mortar migrate', () => {
  let dir: string
  let appFile: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mortar-cli-'))
    appFile = join(dir, 'app.ts')
    // An app file as users write it: default-exports a function returning the app.
    writeFileSync(
      appFile,
      `import { createApp } from '${src}/app/create-app.js'
import { defineModule } from '${src}/app/define-module.js'
import { createLogger } from '${src}/logger/create-logger.js'
const shop = defineModule({
  name: 'shop',
  register() {},
  migrations: {
    '0001_create_products': {
      async up(db) { await db.schema.createTable('product').addColumn('id', 'integer').execute() },
      async down(db) { await db.schema.dropTable('product').execute() },
    },
    '0002_create_orders': {
      async up(db) { await db.schema.createTable('orders').addColumn('id', 'integer').execute() },
      async down(db) { await db.schema.dropTable('orders').execute() },
    },
  },
})
export default () => createApp({ modules: [shop], logger: createLogger({ level: 'silent' }), database: 'sqlite:${join(dir, 'app.db')}' })
`,
    )
  })

  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('applies, lists and reverts migrations of the app named by --app or MORTAR_APP', async () => {
    const up = io()
    expect(await runCli(['migrate', 'up', '--app', appFile], up.io)).toBe(0)
    expect(up.out).toEqual([
      'Applied 2 migrations:',
      '  + shop/0001_create_products',
      '  + shop/0002_create_orders',
    ])

    const again = io({ MORTAR_APP: appFile })
    expect(await runCli(['migrate', 'up'], again.io)).toBe(0)
    expect(again.out).toEqual(['Nothing to migrate: the database is up to date.'])

    const down = io()
    expect(await runCli(['migrate', 'down', `--app=${appFile}`], down.io)).toBe(0)
    expect(down.out).toEqual(['Reverted 1 migration:', '  - shop/0002_create_orders'])

    const status = io({ MORTAR_APP: appFile })
    expect(await runCli(['migrate', 'status'], status.io)).toBe(0)
    expect(status.out[0]).toMatch(/^applied +shop\/0001_create_products/)
    expect(status.out[1]).toBe('pending  shop/0002_create_orders')
    expect(status.out.at(-1)).toBe('\n1 applied, 1 pending.')
  })

  it('explains wrong usage with exit code 2', async () => {
    const noApp = io()
    expect(await runCli(['migrate', 'up'], noApp.io)).toBe(2)
    expect(noApp.err[0]).toMatch(/--app/)
    const unknown = io()
    expect(await runCli(['migrate', 'sideways', '--app', appFile], unknown.io)).toBe(2)
    expect(unknown.err[0]).toMatch(/Unknown command/)
  })

  it('fails with exit code 1 and a readable reason when the app file is wrong', async () => {
    const bad = join(dir, 'bad.mjs')
    writeFileSync(bad, 'export default 42\n')
    const run = io()
    expect(await runCli(['migrate', 'up', '--app', bad], run.io)).toBe(1)
    expect(run.err[0]).toMatch(/neither an App nor a function/)
  })
})
