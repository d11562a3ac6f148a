import { createLogger, JOBS } from '@mortar/core'
import { createTestApp, type TestApp } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { Notification } from '../notification/notification.js'
import { notifyModule } from './notify-module.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Welcome extends Notification {
  readonly type = 'welcome'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return { subject: 'Welcome', text: 'Hello.' }
  }
}

describe('mortar notify commands', () => {
  const module = notifyModule({
    channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox() })],
  })
  let app: TestApp
  const command = (name: string) => {
    const found = module.commands?.find((c) => c.name === name)
    if (found === undefined) throw new Error(`no command ${name}`)
    return found
  }
  async function run(name: string, args: string[]) {
    const out: string[] = []
    const err: string[] = []
    const code = await command(name).run({
      app: app as never,
      args,
      stdout: (line) => out.push(line),
      stderr: (line) => err.push(line),
    })
    return { code, out, err }
  }

  beforeAll(async () => {
    app = createTestApp({
      database: 'sqlite::memory:',
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [module],
    })
    await app.migrate()
    await app.start()
  })
  afterAll(() => app.stop())

  it('notify status prints counts by channel and status, and a recipient’s deliveries', async () => {
    expect((await run('notify status', [])).out).toEqual(['No deliveries.'])
    const notifier = app.resolve(NOTIFIER)
    await notifier.notify({ id: 'ada', email: 'ada@example.com' }, new Welcome())
    await notifier.notify({ id: 'bob', email: 'not an address' }, new Welcome())
    await notifier.notify({ id: 'cy' }, new Welcome())
    await app.resolve(JOBS).drain()

    const table = await run('notify status', [])
    expect(table.code).toBe(0)
    expect(table.out[0]).toMatch(/^channel\s+status\s+count$/)
    expect(table.out.slice(1).map((line) => line.split(/\s+/))).toEqual([
      ['mail', 'dead', '1'],
      ['mail', 'sent', '1'],
      ['mail', 'suppressed', '1'],
    ])
    const json = JSON.parse((await run('notify status', ['--json'])).out[0] ?? '')
    expect(json.counts).toHaveLength(3)

    const bob = await run('notify status', ['--recipient', 'bob'])
    expect(bob.out).toHaveLength(1)
    expect(bob.out[0]).toMatch(/ welcome {2}mail {2}dead {2}attempts \d+ {2}\S/)
  })

  it('notify replay skips deliveries that were dead when written, and refuses one by id', async () => {
    // bob's mail was dead when written (its address is invalid): sending again cannot help.
    expect((await run('notify replay', ['all-dead'])).out).toEqual(['Replayed 0 deliveries.'])
    const [bob] = await app.resolve(DELIVERIES).list('bob')
    await expect(run('notify replay', [bob?.id ?? ''])).rejects.toMatchObject({
      code: 'E_DELIVERY_NOT_REPLAYABLE',
    })
  })

  it('refuses wrong usage with exit code 2', async () => {
    expect((await run('notify status', ['--recipient'])).code).toBe(2)
    expect((await run('notify status', ['--bogus'])).code).toBe(2)
    expect((await run('notify replay', [])).code).toBe(2)
  })
})
