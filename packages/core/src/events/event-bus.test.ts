import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { isMortarError, ValidationError } from '../errors/index.js'
import type { Logger } from '../logger/logger.js'
import { EVENT_BUS, EventBus } from './event-bus.js'

// Through the package name, as apps do: TypeScript drops augmentations made through a
// re-export when another one targets the defining file, so every augmentation uses this path.
declare module '@mortar/core' {
  interface EventMap {
    'test.order_placed': { orderId: string; total: number }
    'test.user_signed_up': { userId: string }
  }
}

interface Logged {
  readonly level: string
  readonly fields: object | string
  readonly message: string | undefined
}

function recordingLogger(): Logger & { readonly logged: Logged[] } {
  const logged: Logged[] = []
  const at =
    (level: string) =>
    (fields: object | string, message?: string): void =>
      void logged.push({ level, fields, message })
  const logger = {
    logged,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => logger,
  }
  return logger
}

describe('EventBus', () => {
  it('delivers a published payload to every subscriber, in subscription order', async () => {
    const bus = new EventBus(recordingLogger())
    const calls: string[] = []
    bus.subscribe('test.order_placed', async (payload, name) => {
      await Promise.resolve()
      calls.push(`first ${payload.orderId} ${name}`)
    })
    bus.subscribe('test.order_placed', ({ total }) => {
      calls.push(`second ${total}`)
    })
    bus.subscribe('test.user_signed_up', () => {
      calls.push('other event')
    })
    await bus.publish('test.order_placed', { orderId: 'o-1', total: 12 })
    expect(calls).toEqual(['first o-1 test.order_placed', 'second 12'])
  })

  it('waits for async handlers before publish resolves', async () => {
    const bus = new EventBus(recordingLogger())
    let done = false
    bus.subscribe('test.user_signed_up', async () => {
      await new Promise((resolve) => setImmediate(resolve))
      done = true
    })
    await bus.publish('test.user_signed_up', { userId: 'u-1' })
    expect(done).toBe(true)
  })

  it('resolves when nobody subscribed', async () => {
    const bus = new EventBus(recordingLogger())
    await expect(bus.publish('test.user_signed_up', { userId: 'u-1' })).resolves.toBeUndefined()
  })

  it('keeps running handlers after one throws or rejects, and logs each failure with the event name', async () => {
    const logger = recordingLogger()
    const bus = new EventBus(logger)
    const reached: number[] = []
    const boom = new Error('handler exploded')
    bus.subscribe('test.order_placed', () => {
      throw boom
    })
    bus.subscribe('test.order_placed', () => {
      reached.push(2)
    })
    bus.subscribe('test.order_placed', async () => {
      throw new Error('async failure')
    })
    bus.subscribe('test.order_placed', () => {
      reached.push(4)
    })
    await expect(
      bus.publish('test.order_placed', { orderId: 'o-2', total: 1 }),
    ).resolves.toBeUndefined()
    expect(reached).toEqual([2, 4])
    expect(logger.logged).toHaveLength(2)
    expect(logger.logged[0]).toMatchObject({
      level: 'error',
      fields: { err: boom, event: 'test.order_placed' },
    })
    expect(logger.logged[0]?.message).toContain('test.order_placed')
    expect(logger.logged[1]).toMatchObject({
      level: 'error',
      fields: { event: 'test.order_placed' },
    })
  })

  it('stops calling a handler once unsubscribed, and unsubscribing twice is harmless', async () => {
    const bus = new EventBus(recordingLogger())
    const seen: string[] = []
    const unsubscribe = bus.subscribe('test.user_signed_up', ({ userId }) => {
      seen.push(`a ${userId}`)
    })
    bus.subscribe('test.user_signed_up', ({ userId }) => {
      seen.push(`b ${userId}`)
    })
    await bus.publish('test.user_signed_up', { userId: 'u-1' })
    unsubscribe()
    unsubscribe()
    await bus.publish('test.user_signed_up', { userId: 'u-2' })
    expect(seen).toEqual(['a u-1', 'b u-1', 'b u-2'])
    expect(bus.listenerCount('test.user_signed_up')).toBe(1)
  })

  it('finishes the current publish with the handlers it started with', async () => {
    const bus = new EventBus(recordingLogger())
    const seen: string[] = []
    const unsubscribeLate = { run: (): void => {} }
    bus.subscribe('test.user_signed_up', () => {
      seen.push('first')
      unsubscribeLate.run()
      bus.subscribe('test.user_signed_up', () => {
        seen.push('added during publish')
      })
    })
    unsubscribeLate.run = bus.subscribe('test.user_signed_up', () => {
      seen.push('second')
    })
    await bus.publish('test.user_signed_up', { userId: 'u-1' })
    expect(seen).toEqual(['first', 'second'])
  })

  it('rejects a payload that fails the defined schema before any handler runs', async () => {
    const bus = new EventBus(recordingLogger())
    bus.define(
      'test.order_placed',
      z.object({ orderId: z.string().min(1), total: z.number().nonnegative() }),
    )
    let called = false
    bus.subscribe('test.order_placed', () => {
      called = true
    })
    const error = await bus
      .publish('test.order_placed', { orderId: '', total: -5 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect(error).toMatchObject({ code: 'E_VALIDATION', status: 422 })
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([
      'orderId',
      'total',
    ])
    expect((error as ValidationError).message).toContain('test.order_placed')
    expect(called).toBe(false)

    // @ts-expect-error a payload of the wrong shape does not compile either
    await expect(bus.publish('test.order_placed', { orderId: 'o-1' })).rejects.toThrow(
      ValidationError,
    )
  })

  it('hands handlers the parsed payload of a defined event', async () => {
    const bus = new EventBus(recordingLogger())
    bus.define('test.user_signed_up', z.object({ userId: z.string().trim() }))
    const seen: unknown[] = []
    bus.subscribe('test.user_signed_up', (payload) => {
      seen.push(payload)
    })
    const extra = { userId: '  u-1 ', password: 'not forwarded' }
    await bus.publish('test.user_signed_up', extra)
    expect(seen).toEqual([{ userId: 'u-1' }])
  })

  it('refuses to define an event twice', () => {
    const bus = new EventBus(recordingLogger())
    bus.define('test.user_signed_up', z.object({ userId: z.string() }))
    let error: unknown
    try {
      bus.define('test.user_signed_up', z.object({ userId: z.string() }))
    } catch (caught) {
      error = caught
    }
    expect(isMortarError(error) && error.code).toBe('E_EVENT_ALREADY_DEFINED')
  })
})

describe('EVENT_BUS', () => {
  it('is a symbol token named mortar.event_bus', () => {
    expect(EVENT_BUS.description).toBe('mortar.event_bus')
  })
})
