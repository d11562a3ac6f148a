import { MortarError } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/inbox-channel.js'
import { defineDigest } from '../digest/define-digest.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { notifyModule } from '../module/notify-module.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'
import { NotificationFake } from '../testing/notification-fake.js'
import { Notification } from './notification.js'
import { route } from './recipient.js'
import { z } from 'zod'

/** A notification whose via() and fields come from outside (a user's stored choice, an order id). */
class Configurable extends Notification {
  constructor(
    readonly channels: readonly unknown[],
    fields: { key?: unknown; type?: unknown; category?: unknown } = {},
  ) {
    super()
    Object.assign(this, fields)
  }
  via() {
    return this.channels as readonly 'inbox'[]
  }
  toInbox() {
    return { title: 'Hello' }
  }
}

const code = async (call: () => unknown): Promise<string | undefined> => {
  try {
    await call()
  } catch (error) {
    return error instanceof MortarError ? error.code : `untyped ${String(error)}`
  }
  return undefined
}

// Before, a channel name the ledger's varchar(32) cannot hold was a dead row on SQLite and the
// database's own error on PostgreSQL and MariaDB (the caller's transaction failed with it); a
// key, type or category it cannot hold a bare TypeError with no code.
const refused: readonly [string, Configurable][] = [
  ['a channel name over 32 characters', new Configurable(['x'.repeat(33)])],
  ['a channel name that is no text', new Configurable([42])],
  ['a channel name with a line break', new Configurable(['in\nbox'])],
  ['an empty channel name', new Configurable([''])],
  ['a via() that is no array', new Configurable('inbox' as unknown as unknown[])],
  ['a key over 191 characters', new Configurable(['inbox'], { key: 'k'.repeat(192) })],
  ['a key with NUL', new Configurable(['inbox'], { key: 'a\u0000b' })],
  ['a type that is no text', new Configurable(['inbox'], { type: 7 })],
  ['a category with a lone surrogate', new Configurable(['inbox'], { category: 'a\uD800' })],
  ['a digest that is no { key, item }', new Configurable([], { digest: 'daily' } as never)],
]

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `notify() of an unstorable notification on ${engine.title}`,
    () => {
      if (engine.skip) console.info(engine.skip)
      const started = notifyAppOn(engine, { channels: [inboxChannel()] })

      it('refuses it with E_VALIDATION and writes nothing, as the fake does', async () => {
        const app = started()
        const fake = new NotificationFake({ channels: [inboxChannel()] })
        for (const [, notification] of refused) {
          expect(await code(() => app.resolve(NOTIFIER).notify({ id: 'ada' }, notification))).toBe(
            'E_VALIDATION',
          )
          expect(await code(() => fake.notify({ id: 'ada' }, notification))).toBe('E_VALIDATION')
        }
        expect(await app.resolve(DELIVERIES).list('ada')).toEqual([])
        // A name of 32 characters is one: a channel the app lacks, dead with the reason.
        const result = await app
          .resolve(NOTIFIER)
          .notify({ id: 'ada' }, new Configurable(['y'.repeat(32)]))
        expect(result.deliveries).toMatchObject([{ status: 'dead' }])
      })
    },
  )
}

describe('the notify config', () => {
  it('refuses a channel or digest whose name the ledger cannot store, and a digest that cannot close', async () => {
    const named = (name: string) => Object.assign(inboxChannel(), { name }) as never
    expect(await code(() => notifyModule({ channels: [named('x'.repeat(33))] }))).toBe(
      'E_NOTIFY_CONFIG',
    )
    expect(await code(() => new NotificationFake({ channels: [named('')] }))).toBe(
      'E_NOTIFY_CONFIG',
    )
    const digest = (window: object, channels: readonly string[] = ['inbox'], key = 'daily') =>
      defineDigest({
        key,
        schema: z.object({}),
        window,
        channels,
        toInbox: () => ({ title: 'Digest' }),
      } as never)
    expect(await code(() => digest({ minutes: 1e12 }))).toBe('E_NOTIFY_CONFIG')
    expect(await code(() => digest({ at: '25:00' }))).toBe('E_NOTIFY_CONFIG')
    expect(await code(() => digest({ minutes: 60 }, ['x'.repeat(33)]))).toBe('E_NOTIFY_CONFIG')
    expect(await code(() => digest({ minutes: 60 }, ['inbox'], 'a\u0000b'))).toBe('E_NOTIFY_CONFIG')
    expect(await code(() => route('mail', ''))).toBe('E_NOTIFY_RECIPIENT')
  })
})
