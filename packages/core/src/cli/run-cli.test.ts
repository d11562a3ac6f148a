import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../app/app.js'
import type { JobDefinition } from '../jobs/define-job.js'
import { JOBS } from '../jobs/job-queue.js'
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

  it('censors the secrets an error quotes, as the logger does, in what it prints', async () => {
    // A driver's error quotes the URL it failed on: printed whole to the terminal and CI logs.
    const failing = join(dir, 'failing.mjs')
    writeFileSync(
      failing,
      `export default () => { throw new Error('connect to postgres://admin:hunter2@db/prod refused; api_key=k3y-abc') }\n`,
    )
    const run = io()
    expect(await runCli(['migrate', 'up', '--app', failing], run.io)).toBe(1)
    const printed = run.err.join('\n')
    expect(printed).not.toMatch(/hunter2|k3y-abc/)
    expect(printed).toContain('postgres://admin:[redacted]@db/prod refused; api_key=[redacted]')
  })
})

describe('mortar worker and mortar jobs', () => {
  let dir: string
  let appFile: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mortar-cli-jobs-'))
    appFile = join(dir, 'app.ts')
    writeFileSync(
      appFile,
      `import { z } from 'zod'
import { createApp } from '${src}/app/create-app.js'
import { defineModule } from '${src}/app/define-module.js'
import { createLogger } from '${src}/logger/create-logger.js'
import { defineJob } from '${src}/jobs/define-job.js'
import { PermanentJobError } from '${src}/jobs/job-errors.js'
import { JOBS } from '${src}/jobs/job-queue.js'
export const ran: string[] = []
export const echo = defineJob({
  name: 'cli.echo',
  schema: z.object({ text: z.string(), token: z.string().optional() }),
  attempts: 1,
  handler: ({ text }) => {
    if (text === 'fail') throw new PermanentJobError('told to fail')
    ran.push(text)
  },
})
const shop = defineModule({
  name: 'shop',
  register() {},
  jobs: [echo],
  commands: [{
    name: 'shop hello',
    summary: 'says hello with the queue engine',
    async run({ app, args, stdout }) {
      stdout(\`hello \${args.join(' ')} on \${app.resolve(JOBS).engine}\`)
      return 0
    },
  }],
})
export default () => createApp({ modules: [shop], logger: createLogger({ level: 'silent' }), database: 'sqlite:${join(dir, 'app.db')}', jobs: { workers: { pollMs: 20 } } })
`,
    )
  })

  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('runs workers until stopped, and shows, retries and purges jobs', async () => {
    expect(await runCli(['migrate', 'up', '--app', appFile], io().io)).toBe(0)
    const module = (await import(appFile)) as {
      default: () => App<unknown>
      echo: JobDefinition
      ran: string[]
    }
    // Jobs enqueued by a web-only process (workers off), then run by `mortar worker`.
    process.env.MORTAR_WORKERS = 'false'
    const web = module.default()
    delete process.env.MORTAR_WORKERS
    await web.start()
    await web.resolve(JOBS).enqueue(module.echo, { text: 'one' })
    await web.resolve(JOBS).enqueue(module.echo, { text: 'fail', token: 'tok-s3cr3t' })
    await web.stop()

    const before = io({ MORTAR_APP: appFile })
    expect(await runCli(['jobs', 'status'], before.io)).toBe(0)
    expect(before.out[0]).toBe('engine: database')
    expect(before.out[2]).toMatch(/^cli\.echo +2 +0 +0 +0 +0$/)

    let stop!: () => void
    const stopSignal = new Promise<void>((resolve) => {
      stop = resolve
    })
    const run = io({ MORTAR_APP: appFile })
    const worker = runCli(['worker'], { ...run.io, stopSignal })
    await expect.poll(() => module.ran).toEqual(['one'])
    stop()
    expect(await worker).toBe(0)
    expect(run.out).toEqual([expect.stringMatching(/^Worker started/), 'Worker stopped.'])

    const dead = io({ MORTAR_APP: appFile })
    expect(await runCli(['jobs', 'dead'], dead.io)).toBe(0)
    expect(dead.out[0]).toMatch(/^#\d+ cli\.echo {2}attempt 1\/1 {2}died /)
    // A payload's secret is shown censored, as the logger writes it.
    expect(dead.out[1]).toBe('  payload {"text":"fail","token":"[redacted]"}')
    expect(dead.out[2]).toMatch(
      /attempt 1 at .*: PermanentJobError \[E_JOB_PERMANENT\]: told to fail$/,
    )
    const id = /^#(\d+)/.exec(dead.out[0] as string)?.[1] as string

    const retried = io({ MORTAR_APP: appFile })
    expect(await runCli(['jobs', 'retry', id], retried.io)).toBe(0)
    expect(retried.out).toEqual(['Retried 1 dead job.'])
    const pending = io({ MORTAR_APP: appFile })
    await runCli(['jobs', 'status'], pending.io)
    expect(pending.out[2]).toMatch(/^cli\.echo +1 +0 +0 +0 +0$/)

    const purged = io({ MORTAR_APP: appFile })
    expect(await runCli(['jobs', 'purge', '--waiting'], purged.io)).toBe(0)
    expect(purged.out).toEqual(['Deleted 1 job.'])
  })

  it('runs a module’s own command, lists it in help, and refuses unknown ones', async () => {
    const hello = io()
    expect(await runCli(['shop', 'hello', 'there', '--app', appFile], hello.io)).toBe(0)
    expect(hello.out).toEqual(['hello there on database'])
    const help = io()
    expect(await runCli(['help', '--app', appFile], help.io)).toBe(0)
    expect(help.out.join('\n')).toMatch(/shop hello +says hello with the queue engine/)
    const unknown = io()
    expect(await runCli(['shop', 'bye', '--app', appFile], unknown.io)).toBe(2)
    expect(unknown.err[0]).toMatch(/Unknown command: shop bye/)
    const retry = io()
    expect(await runCli(['jobs', 'retry', '--app', appFile], retry.io)).toBe(2)
  })

  it('shows control characters in what commands print instead of sending them to the terminal', async () => {
    // A title change, a screen clear, a carriage return over the line, C1 CSI, a bidi override.
    const hostile = '\u001b]0;owned\u0007\u001b[2J\rok\u009b31m\u202egnp.exe'
    const hello = io()
    expect(await runCli(['shop', 'hello', hostile, '--app', appFile], hello.io)).toBe(0)
    expect(hello.out).toEqual([
      'hello \\u001b]0;owned\\u0007\\u001b[2J\\u000dok\\u009b31m\\u202egnp.exe on database',
    ])
    // A newline in what a command prints (a stored error) cannot print a line that looks real.
    const forged = io()
    expect(await runCli(['shop', 'hello', 'x\nfake line', '--app', appFile], forged.io)).toBe(0)
    expect(forged.out).toEqual(['hello x\\u000afake line on database'])
    const unknown = io()
    await runCli(['shop', hostile, '--app', appFile], unknown.io)
    expect(unknown.err.join('\n')).toContain('Unknown command: shop \\u001b]0;owned')
    expect(unknown.err.join('\n')).not.toContain('\u001b')
  })
})

describe('mortar worker signals', () => {
  let dir: string
  let appFile: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mortar-cli-signals-'))
    appFile = join(dir, 'app.ts')
    // Its stop waits until the test lets it go, so signals can arrive while it stops.
    writeFileSync(
      appFile,
      `import { createApp } from '${src}/app/create-app.js'
import { defineModule } from '${src}/app/define-module.js'
import { createLogger } from '${src}/logger/create-logger.js'
export const stops: string[] = []
export const lines: string[] = []
let release = () => {}
const released = new Promise<void>((resolve) => { release = resolve })
export const letStop = () => release()
const held = defineModule({
  name: 'held',
  register() {},
  async onStop() { stops.push('stop'); await released },
})
export default () => createApp({ modules: [held], logger: createLogger({ level: 'info', destination: { write: (line) => lines.push(line) } }), database: 'sqlite:${join(dir, 'app.db')}' })
`,
    )
  })

  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('stops on SIGHUP, and logs and ignores the signals that arrive while it stops', async () => {
    // It listened for SIGTERM and SIGINT, and only until the first: a closed terminal ended the
    // worker with no stop, and a second Ctrl-C ended it mid-stop.
    const module = (await import(appFile)) as {
      stops: string[]
      lines: string[]
      letStop: () => void
    }
    const before = process.listenerCount('SIGHUP')
    const run = io({ MORTAR_APP: appFile })
    const worker = runCli(['worker'], run.io)
    await expect.poll(() => run.out).toEqual([expect.stringMatching(/^Worker started/)])
    process.emit('SIGHUP', 'SIGHUP')
    await expect.poll(() => module.stops).toEqual(['stop'])
    process.emit('SIGINT', 'SIGINT')
    expect(module.lines.join('')).toContain('Received SIGINT; already stopping, ignored')
    module.letStop()
    expect(await worker).toBe(0)
    expect(run.out.at(-1)).toBe('Worker stopped.')
    expect(process.listenerCount('SIGHUP')).toBe(before)
  })
})
