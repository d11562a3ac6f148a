import type { App } from '../app/app.js'
import { type CreateAppOptions, createApp, registryOf } from '../app/create-app.js'
import { CLOCK } from '../clock/clock.js'
import { FakeClock } from '../clock/fake-clock.js'
import type { Key } from '../di/token.js'

/** Options of {@link createTestApp}: those of `createApp`, plus the clock to bind. */
export interface CreateTestAppOptions<C> extends CreateAppOptions<C> {
  /** Bound under `CLOCK` (before `overrides`); a new {@link FakeClock} by default. */
  readonly clock?: FakeClock
}

/** An app made by {@link createTestApp}: an `App` that also hands out its fake clock. */
export interface TestApp<C = undefined> extends App<C> {
  /** The {@link FakeClock} bound under `CLOCK`; move it to test anything that reads the time. */
  readonly clock: FakeClock
  /**
   * Makes `key` resolve to `value` from now on, in `resolve`, in scopes and in whatever is
   * constructed later, until {@link TestApp.restore}. Singletons already created keep what they
   * were given: to replace a singleton's dependency, use `overrides`.
   */
  swap<T>(key: Key<T>, value: NoInfer<T>): void
  /** Undoes {@link TestApp.swap} for `key`, or every swap when no key is given. */
  restore(key?: Key<unknown>): void
}

/**
 * Creates an app for a test: the same modules as production, time from a {@link FakeClock}, and
 * `overrides` that replace providers after the modules registered (a fake mailer, an in-memory
 * store). The start-up check does not ask for an override's own dependencies. The app is not
 * started: call `start()`, and `stop()` after the test.
 *
 * @example
 * ```ts
 * import { createTestApp } from '@mortar/core/testing'
 * import { MAILER, usersModule, SignupService } from './users.js'
 *
 * const sent: string[] = []
 * const app = createTestApp({
 *   modules: [usersModule],
 *   overrides(binder) {
 *     binder.bind(MAILER, { useValue: { send: async (to: string) => void sent.push(to) } })
 *   },
 * })
 * await app.start()
 * await app.resolve(SignupService).signup('ada@example.com')
 * app.clock.advance(60_000)
 * app.swap(MAILER, { send: async () => { throw new Error('SMTP down') } })
 * await expect(app.resolve(SignupService).signup('bob@example.com')).rejects.toThrow()
 * app.restore()
 * await app.stop()
 * ```
 */
export function createTestApp<C = undefined>(options: CreateTestAppOptions<C>): TestApp<C> {
  const clock = options.clock ?? new FakeClock()
  const app = createApp<C>({
    ...options,
    overrides(binder) {
      binder.bind(CLOCK, { useValue: clock })
      options.overrides?.(binder)
    },
  })
  const registry = registryOf(app)
  return Object.assign(app, {
    clock,
    swap<T>(key: Key<T>, value: T): void {
      registry.swap(key, value)
    },
    restore(key?: Key<unknown>): void {
      registry.restore(key)
    },
  })
}
