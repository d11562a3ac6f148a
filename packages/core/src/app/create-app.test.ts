import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CLOCK, SystemClock } from '../clock/clock.js'
import { token } from '../di/token.js'
import { inject, injectable } from '../di/tsyringe.js'
import { EVENT_BUS, EventBus } from '../events/event-bus.js'
import { LOGGER, type LogFn, type Logger } from '../logger/logger.js'
import { APP_CONFIG } from './app-config.js'
import type { App } from './app.js'
import { createApp } from './create-app.js'
import { defineModule, type Module } from './define-module.js'
import { ShutdownError } from './shutdown-error.js'
import { StartupError } from './startup-error.js'

interface Entry {
  readonly level: string
  readonly args: readonly unknown[]
}

function recordingLogger(entries: Entry[] = []): Logger & { entries: Entry[] } {
  const at =
    (level: string): LogFn =>
    (...args: unknown[]) =>
      void entries.push({ level, args })
  const logger = {
    entries,
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

function tracked(
  name: string,
  calls: string[],
  hooks: { start?: () => unknown; stop?: () => unknown } = {},
): Module {
  return defineModule({
    name,
    register: () => undefined,
    onStart: async () => {
      calls.push(`start ${name}`)
      await hooks.start?.()
    },
    onStop: async () => {
      calls.push(`stop ${name}`)
      await hooks.stop?.()
    },
  })
}

describe('createApp lifecycle', () => {
  it('starts modules in order and stops them in reverse', async () => {
    const calls: string[] = []
    const app = createApp({
      modules: [tracked('a', calls), tracked('b', calls), tracked('c', calls)],
    })
    expect(app.state).toBe('created')
    await app.start()
    expect(app.state).toBe('started')
    await app.stop()
    expect(app.state).toBe('stopped')
    expect(calls).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
  })

  it('stops the modules already started, in reverse, when one fails to start, and rethrows', async () => {
    const calls: string[] = []
    const boom = new Error('port in use')
    const app = createApp({
      modules: [
        tracked('a', calls),
        tracked('b', calls),
        tracked('c', calls, {
          start: () => {
            throw boom
          },
        }),
        tracked('d', calls),
      ],
      logger: recordingLogger(),
    })
    await expect(app.start()).rejects.toBe(boom)
    expect(calls).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a'])
    expect(app.state).toBe('stopped')
    await app.stop()
    expect(calls).toHaveLength(5)
  })

  it('runs stop once when called twice; the second call awaits the first', async () => {
    const calls: string[] = []
    let release: () => void = () => undefined
    const app = createApp({
      modules: [tracked('a', calls, { stop: () => new Promise<void>((r) => (release = r)) })],
    })
    await app.start()
    const first = app.stop()
    const second = app.stop()
    expect(second).toBe(first)
    let settled = false
    void second.then(() => (settled = true))
    await vi.waitFor(() => expect(calls).toContain('stop a'))
    expect(settled).toBe(false)
    release()
    await second
    expect(calls).toEqual(['start a', 'stop a'])
  })

  it('refuses a deadline a timer cannot wait for (NaN, negative, infinite, past 2^31 − 1 ms) and stops nothing', async () => {
    const calls: string[] = []
    const app = createApp({ modules: [tracked('a', calls)] })
    await app.start()
    for (const timeoutMs of [Number.NaN, -1, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await expect(app.stop({ timeoutMs })).rejects.toThrow(TypeError)
    }
    // Anything but a number, as an option read from process.env arrives ('5' concatenated
    // onto the clock's reading).
    await fc.assert(
      fc.asyncProperty(
        fc
          .anything()
          .filter((value) => value !== undefined && value !== null && typeof value !== 'number'),
        async (timeoutMs) => {
          await expect(app.stop({ timeoutMs: timeoutMs as number })).rejects.toThrow(TypeError)
        },
      ),
    )
    await expect(app.stop({ timeoutMs: '5' as unknown as number })).rejects.toThrow(TypeError)
    expect(app.state).toBe('started')
    await app.stop({ timeoutMs: 2 ** 31 - 1 })
    expect(calls).toEqual(['start a', 'stop a'])
  })

  it('logs and skips past an onStop that misses its deadline, then fails stop with E_SHUTDOWN', async () => {
    const calls: string[] = []
    const logger = recordingLogger()
    const app = createApp({
      modules: [
        tracked('a', calls),
        tracked('hung', calls, { stop: () => new Promise(() => undefined) }),
      ],
      logger,
    })
    await app.start()
    const error = await app.stop({ timeoutMs: 5 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ShutdownError)
    expect((error as ShutdownError).code).toBe('E_SHUTDOWN')
    expect((error as ShutdownError).failures).toEqual([
      "Module 'hung' onStop did not finish within the stop's deadline of 5 ms; moved on without it.",
    ])
    expect(calls).toEqual(['start a', 'start hung', 'stop hung', 'stop a'])
    expect(logger.entries).toContainEqual({
      level: 'error',
      args: [
        { timeoutMs: 5 },
        "Module 'hung' onStop did not finish within the stop's deadline of 5 ms; moved on without it.",
      ],
    })
    expect(app.state).toBe('stopped')
  })

  /**
   * Stops `app` with `timeoutMs` under fake timers and returns what the stop threw (or
   * `undefined`); fails unless the stop is over just past its deadline. Each step reached after
   * the deadline waits a timer of 0 ms (1 ms under fake timers): far below the deadline more
   * each hung step took with a deadline per step.
   */
  async function stopUnderFakeTimers(app: App<unknown>, timeoutMs: number): Promise<unknown> {
    let settled = false
    const stopping = app
      .stop({ timeoutMs })
      .then(() => undefined)
      .catch((error: unknown) => error)
      .finally(() => {
        settled = true
      })
    await vi.advanceTimersByTimeAsync(timeoutMs)
    for (let turn = 0; turn < 100 && !settled; turn += 1) await vi.advanceTimersByTimeAsync(1)
    expect(settled).toBe(true)
    return stopping
  }

  it('holds the whole stop to its one deadline, however many steps hang', async () => {
    // Fake timers: the stop must be over when its deadline has passed, not a deadline per step.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    try {
      const calls: string[] = []
      const hang = () => new Promise(() => undefined)
      const app = createApp({
        modules: ['a', 'b', 'c'].map((name) => tracked(name, calls, { stop: hang })),
        logger: recordingLogger(),
      })
      await app.start()
      const stopped = await stopUnderFakeTimers(app, 1_000)
      expect(calls).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
      expect((stopped as ShutdownError).failures).toHaveLength(3)
    } finally {
      vi.useRealTimers()
    }
  })

  it('holds a stop during a hung start to its deadline, and stops what had started', async () => {
    // The stop waited for start() with no limit: a hung onStart hung the stop, whatever its
    // timeoutMs said.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    try {
      const calls: string[] = []
      let release: () => void = () => undefined
      const app = createApp({
        modules: [
          tracked('a', calls),
          tracked('hung', calls, {
            start: () => new Promise<void>((resolve) => (release = resolve)),
          }),
          tracked('c', calls),
        ],
        logger: recordingLogger(),
      })
      const starting = app.start().catch((error: unknown) => error)
      await vi.advanceTimersByTimeAsync(0)
      const stopped = await stopUnderFakeTimers(app, 1_000)
      expect((stopped as ShutdownError).failures).toEqual([
        "start() did not finish within the stop's deadline of 1000 ms; moved on without it.",
      ])
      expect(app.state).toBe('stopped')
      // The hung onStart returning late starts nothing more, and its module is stopped: what
      // its onStart opened would stay open (the stop was over before it finished).
      release()
      expect(await starting).toBeInstanceOf(StartupError)
      expect(calls).toEqual(['start a', 'start hung', 'stop a', 'stop hung'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('disposes, once each, the singletons a start builds after a stop gave up on it', async () => {
    const disposed: string[] = []
    const FIRST = token<{ dispose(): void }>('first')
    const LATE = token<{ dispose(): void }>('late')
    let release: () => void = () => undefined
    const app = createApp({
      modules: [
        defineModule({
          name: 'pools',
          register: (binder) => {
            binder.bind(FIRST, {
              useFactory: () => ({ dispose: () => void disposed.push('first') }),
            })
            // A pool whose connect hangs past the stop's deadline, then succeeds.
            binder.bind(LATE, {
              useFactory: async () => {
                await new Promise<void>((resolve) => (release = resolve))
                return { dispose: () => void disposed.push('late') }
              },
              inject: [FIRST],
            })
          },
        }),
      ],
      logger: recordingLogger(),
    })
    const starting = app.start().catch((error: unknown) => error)
    const stopped = await app.stop({ timeoutMs: 5 }).catch((error: unknown) => error)
    expect(stopped).toBeInstanceOf(ShutdownError)
    expect(disposed).toEqual(['first'])
    // The late singleton was kept by nobody: its pool stayed open for good.
    release()
    expect(await starting).toBeInstanceOf(StartupError)
    expect(disposed).toEqual(['first', 'late'])
    expect(app.state).toBe('stopped')
  })

  it('keeps stopping the other modules when an onStop throws, whatever it throws', async () => {
    // String() of an object without a prototype throws: describing that failure threw, and the
    // modules before it never stopped (their buffers never flushed, the database left open).
    const thrown: Array<[unknown, string]> = [
      [new Error('socket already closed'), 'socket already closed'],
      [Object.create(null), '[object Object]'],
    ]
    for (const [value, text] of thrown) {
      const calls: string[] = []
      const app = createApp({
        modules: [
          tracked('a', calls),
          tracked('b', calls, {
            stop: () => {
              throw value
            },
          }),
        ],
        logger: recordingLogger(),
      })
      await app.start()
      await expect(app.stop()).rejects.toThrow(`Module 'b' onStop failed: ${text}`)
      expect(calls).toEqual(['start a', 'start b', 'stop b', 'stop a'])
    }
  })

  it('makes stop before start a no-op and refuses to start a stopped app', async () => {
    const calls: string[] = []
    const app = createApp({ modules: [tracked('a', calls)] })
    await app.stop()
    expect(app.state).toBe('stopped')
    await expect(app.start()).rejects.toMatchObject({ code: 'E_STARTUP' })
    expect(calls).toEqual([])
  })

  it('hands the app to onStart, with singletons already created', async () => {
    const GREETING = token<string>('greeting')
    let seen: string | undefined
    const app = createApp({
      modules: [
        defineModule({
          name: 'greeting',
          register: (binder) => binder.bind(GREETING, { useFactory: async () => 'hello' }),
          onStart: (started) => {
            seen = started.resolve(GREETING)
          },
        }),
      ],
    })
    await app.start()
    expect(seen).toBe('hello')
    await app.stop()
  })
})

describe('createApp providers', () => {
  it('awaits an async singleton factory during start and injects its result', async () => {
    class Pool {
      constructor(readonly url: string) {}
    }
    const POOL = token<Pool>('pool')
    const URL = token<string>('url')
    @injectable()
    class Repo {
      constructor(@inject(POOL) readonly pool: Pool) {}
    }
    const factory = vi.fn(async (url: string) => {
      await new Promise((resolve) => setImmediate(resolve))
      return new Pool(url)
    })
    const app = createApp({
      modules: [
        defineModule({
          name: 'db',
          register(binder) {
            binder.bind(Repo)
            binder.bind(POOL, { inject: [URL], useFactory: factory })
            binder.bind(URL, { useValue: 'sqlite::memory:' })
          },
        }),
      ],
    })
    await app.start()
    const repo = app.resolve(Repo)
    expect(repo.pool).toBeInstanceOf(Pool)
    expect(repo.pool.url).toBe('sqlite::memory:')
    expect(app.resolve(POOL)).toBe(repo.pool)
    expect(app.resolve(Repo)).toBe(repo)
    expect(factory).toHaveBeenCalledOnce()
    await app.stop()
  })

  it('fails start, naming the provider, when a singleton cannot be created', async () => {
    const calls: string[] = []
    const POOL = token<object>('pool')
    const app = createApp({
      modules: [
        defineModule({
          name: 'db',
          register: (binder) =>
            binder.bind(POOL, {
              useFactory: async () => {
                throw new Error('connection refused')
              },
            }),
          onStart: () => void calls.push('start db'),
        }),
      ],
    })
    const error = await app.start().catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'E_RESOLUTION',
      message:
        "Creating singleton factory of token 'pool' in module 'db' failed: connection refused",
      cause: new Error('connection refused'),
    })
    expect(calls).toEqual([])
    expect(app.state).toBe('stopped')
  })

  it('refuses to resolve a singleton before start', () => {
    class Service {}
    const app = createApp({
      modules: [defineModule({ name: 's', register: (binder) => binder.bind(Service) })],
    })
    expect(() => app.resolve(Service)).toThrow(
      "Singleton class Service in module 's' is created by app.start(); await app.start() before resolving it.",
    )
  })

  it('creates a transient on every resolution', async () => {
    class Draft {}
    const app = createApp({
      modules: [
        defineModule({
          name: 'd',
          register: (binder) => binder.bind(Draft, { lifetime: 'transient' }),
        }),
      ],
    })
    await app.start()
    expect(app.resolve(Draft)).not.toBe(app.resolve(Draft))
    await app.stop()
  })

  it('throws a clear error for a key nobody bound', async () => {
    const app = createApp({ modules: [] })
    await app.start()
    expect(() => app.resolve(token('nowhere'))).toThrow(
      "Nothing is bound to token 'nowhere'; bind it in a module's register() (binder.bind(...)) or add the module that does.",
    )
  })

  it('binds the config, logger, clock and event bus before the modules', async () => {
    const logger = recordingLogger()
    const config = { port: 3000 }
    const app = createApp({ modules: [], config, logger })
    await app.start()
    expect(app.resolve(APP_CONFIG)).toBe(config)
    expect(app.config).toBe(config)
    expect(app.resolve(LOGGER)).toBe(logger)
    expect(app.resolve(CLOCK)).toBeInstanceOf(SystemClock)
    expect(app.resolve(EVENT_BUS)).toBeInstanceOf(EventBus)
    await app.stop()
  })

  it('lets a module rebind a built-in, the last binding winning', async () => {
    const clock = { now: () => new Date(0), nowMs: () => 0 }
    const app = createApp({
      modules: [
        defineModule({
          name: 'time',
          register: (binder) => binder.bind(CLOCK, { useValue: clock }),
        }),
      ],
    })
    await app.start()
    expect(app.resolve(CLOCK)).toBe(clock)
    await app.stop()
  })

  it('disposes the singletons it constructed when the app stops, after onStop', async () => {
    const calls: string[] = []
    class Pool {
      dispose(): void {
        calls.push('dispose pool')
      }
    }
    const app = createApp({
      modules: [
        defineModule({
          name: 'db',
          register: (binder) => binder.bind(Pool),
          onStop: () => void calls.push('stop db'),
        }),
      ],
    })
    await app.start()
    await app.stop()
    expect(calls).toEqual(['stop db', 'dispose pool'])
  })
})

describe('App.handleSignals', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('stops the app on SIGTERM, exits with 0, and removes its handlers on request', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never)
    const calls: string[] = []
    const app = createApp({ modules: [tracked('a', calls)], logger: recordingLogger() })
    await app.start()
    const before = process.listenerCount('SIGTERM')
    const remove = app.handleSignals()
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    expect(process.listenerCount('SIGINT')).toBeGreaterThan(0)
    process.emit('SIGTERM', 'SIGTERM')
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0))
    expect(calls).toEqual(['start a', 'stop a'])
    expect(app.state).toBe('stopped')
    remove()
    expect(process.listenerCount('SIGTERM')).toBe(before)
  })

  it('stops once on SIGHUP too, and logs and ignores the signals that arrive while it stops', async () => {
    // A closed terminal (SIGHUP) ended the app with no stop, and with no handler a later signal
    // would end the process mid-flush: the handlers stay until the process exits.
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never)
    const logger = recordingLogger()
    let release = (): void => undefined
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const calls: string[] = []
    const app = createApp({ modules: [tracked('a', calls, { stop: () => released })], logger })
    await app.start()
    const before = process.listenerCount('SIGHUP')
    const remove = app.handleSignals()
    process.emit('SIGHUP', 'SIGHUP')
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.emit(signal, signal)
    expect(logger.entries.filter((e) => e.level === 'warn').map((e) => e.args[0])).toEqual([
      { signal: 'SIGINT' },
      { signal: 'SIGTERM' },
      { signal: 'SIGHUP' },
    ])
    expect(exit).not.toHaveBeenCalled()
    release()
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0))
    expect(exit).toHaveBeenCalledTimes(1)
    expect(calls).toEqual(['start a', 'stop a'])
    remove()
    expect(process.listenerCount('SIGHUP')).toBe(before)
  })

  it('exits with 1 when the app does not stop cleanly', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never)
    const logger = recordingLogger()
    const app = createApp({
      modules: [
        tracked('a', [], {
          stop: () => {
            throw new Error('flush failed')
          },
        }),
      ],
      logger,
    })
    await app.start()
    const remove = app.handleSignals()
    process.emit('SIGINT', 'SIGINT')
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(1))
    expect(logger.entries.some((e) => e.level === 'fatal')).toBe(true)
    remove()
  })
})
