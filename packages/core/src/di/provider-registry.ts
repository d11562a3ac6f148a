import type { DependencyContainer, InjectionToken } from 'tsyringe'
import type { RequestScope } from '../context/request-context.js'
import type { Binder } from './binder.js'
import { checkGraph, type GraphReport } from './check-graph.js'
import type { Lifetime } from './provider.js'
import { dependenciesOf, describeProvider, type Registration } from './registration.js'
import { ResolutionError } from './resolution-error.js'
import { type Constructor, type Key, keyName, whenMissing } from './token.js'
import { thrownText } from '../errors/thrown-text.js'

/** Something with a `dispose()` to call when its owner ends (a scope, or the app). */
export interface Disposable {
  dispose(): unknown
}

interface ScopeState {
  readonly instances: Map<Registration, unknown>
  readonly disposables: Disposable[]
}

const LIFETIMES: ReadonlySet<string> = new Set(['singleton', 'scoped', 'transient'])

/**
 * The app's bindings and the glue to tsyringe. Every provider is installed as a tsyringe factory
 * that constructs with `new Class(...deps)` itself (dependencies from `@inject` tokens, else from
 * the `design:paramtypes` metadata a decorator such as `@injectable()` makes the compiler emit), so
 * async singletons are awaited at start and a scoped provider is cached per child container.
 * Internal.
 */
export class ProviderRegistry {
  readonly #container: DependencyContainer
  readonly #registrations = new Map<Key<unknown>, Registration>()
  readonly #singletons = new Map<Registration, unknown>()
  readonly #created: Disposable[] = []
  readonly #scopes = new WeakMap<DependencyContainer, ScopeState>()
  readonly #swaps = new Map<Key<unknown>, unknown>()
  #installed = false

  constructor(container: DependencyContainer) {
    this.#container = container
  }

  /** A {@link Binder} that records bindings on behalf of `module`. */
  binder<C>(module: string, config: C, options: { overridden?: boolean } = {}): Binder<C> {
    const add = (key: Key<unknown>, provider?: object): void => {
      this.#add(module, key, provider, options.overridden === true)
    }
    return { config, module, bind: add as Binder<C>['bind'] }
  }

  /** The module that bound `key`, if any. */
  moduleOf(key: Key<unknown>): string | undefined {
    return this.#registrations.get(key)?.module
  }

  #add(module: string, key: Key<unknown>, provider: object | undefined, overridden: boolean): void {
    if (this.#installed) {
      throw new ResolutionError(
        `Module '${module}' tried to bind ${keyName(key)} after the app was created; bind it in register().`,
      )
    }
    if (typeof key !== 'symbol' && typeof key !== 'function') {
      throw new ResolutionError(
        `Module '${module}' bound ${String(key)}, which is not a key; bind a token (token<T>(name)) or a class.`,
      )
    }
    const base = { key, module, overridden }
    const p = (provider ?? {}) as Record<string, unknown>
    const lifetime = lifetimeOf(module, key, p.lifetime)
    let registration: Registration
    if ('useValue' in p) {
      registration = { ...base, kind: 'value', lifetime: 'singleton', useValue: p.useValue }
    } else if ('useClass' in p) {
      if (typeof p.useClass !== 'function')
        throw badProvider(module, key, 'useClass is not a class')
      registration = {
        ...base,
        kind: 'class',
        lifetime,
        useClass: p.useClass as Constructor<unknown>,
      }
    } else if ('useFactory' in p) {
      if (typeof p.useFactory !== 'function') {
        throw badProvider(module, key, 'useFactory is not a function')
      }
      const inject = p.inject ?? []
      if (!Array.isArray(inject)) throw badProvider(module, key, 'inject is not an array of keys')
      registration = {
        ...base,
        kind: 'factory',
        lifetime,
        useFactory: p.useFactory as (...deps: unknown[]) => unknown,
        inject,
      }
    } else if (typeof key === 'function') {
      registration = { ...base, kind: 'class', lifetime, useClass: key }
    } else {
      throw badProvider(module, key, 'a token needs { useValue }, { useClass } or { useFactory }')
    }
    this.#registrations.set(key, registration)
  }

  /** Installs every binding into the container; after this, binding is closed. */
  install(): void {
    if (this.#installed) return
    this.#installed = true
    for (const registration of this.#registrations.values()) {
      const provide = this.#provider(registration)
      const { key } = registration
      this.#container.register(key, {
        // A swap (tests only) wins over the provider for as long as it lasts.
        useFactory: (c) => (this.#swaps.has(key) ? this.#swaps.get(key) : provide(c)),
      })
    }
  }

  #provider(registration: Registration): (c: DependencyContainer) => unknown {
    if (registration.kind === 'value') {
      // Not tsyringe's useValue: it treats `useValue: undefined` (or null) as no provider at all.
      const value = registration.useValue
      return () => value
    }
    if (registration.lifetime === 'singleton') return () => this.#singleton(registration)
    if (registration.lifetime === 'scoped') return (c) => this.#scoped(registration, c)
    return (c) => this.#transient(registration, c)
  }

  /** Makes `key` resolve to `value` until {@link ProviderRegistry.restore}. For tests. */
  swap(key: Key<unknown>, value: unknown): void {
    this.#assertBound(key)
    this.#swaps.set(key, value)
  }

  /** Undoes {@link ProviderRegistry.swap} for `key`, or for every key when none is given. */
  restore(key?: Key<unknown>): void {
    if (key === undefined) this.#swaps.clear()
    else this.#swaps.delete(key)
  }

  /** Checks the graph on paper. */
  check(): GraphReport {
    return checkGraph(this.#registrations)
  }

  /** Creates the singletons in dependency order, awaiting async factories. */
  async createSingletons(order: readonly Registration[]): Promise<void> {
    for (const registration of order) {
      if (registration.kind === 'value' || this.#singletons.has(registration)) continue
      let instance: unknown
      try {
        instance = await this.#construct(registration, this.#container)
      } catch (error) {
        throw new ResolutionError(
          `Creating singleton ${describeProvider(registration)} failed: ${thrownText(error)}`,
          { cause: error },
        )
      }
      this.#singletons.set(registration, instance)
      if (isDisposable(instance)) this.#created.push(instance)
    }
  }

  /**
   * Singletons this registry constructed that have a `dispose()` and were not taken before,
   * newest first: each is handed out once, so one a start builds after a stop disposed the
   * others is disposed too, and none twice.
   */
  takeDisposableSingletons(): readonly Disposable[] {
    return this.#created.splice(0).reverse()
  }

  /** Resolves from the root container, with a clear error for a key nobody bound. */
  resolve<T>(key: Key<T>): T {
    this.#assertBound(key)
    return this.#container.resolve(key as InjectionToken<T>)
  }

  /**
   * A request scope over a child container. The child is made on the first `resolve` of a scoped
   * or transient provider: a singleton is the same in every scope, and tsyringe's child copies
   * the registry on creation, which costs a request that only reads singletons (most do) more
   * than the rest of its resolving.
   */
  createScope(): RequestScope {
    let child: DependencyContainer | undefined
    let disposed = false
    return {
      resolve: <T>(key: Key<T>): T => {
        if (disposed) {
          throw new ResolutionError(
            `Resolved ${keyName(key)} from a request scope that was already disposed; resolve it while the request runs.`,
          )
        }
        const registration = this.#registrations.get(key)
        if (registration === undefined) this.#assertBound(key)
        else if (registration.lifetime === 'singleton' && !this.#swaps.has(key)) {
          return (
            registration.kind === 'value' ? registration.useValue : this.#singleton(registration)
          ) as T
        }
        child ??= this.#container.createChildContainer()
        return child.resolve(key as InjectionToken<T>)
      },
      dispose: async (): Promise<void> => {
        if (disposed) return
        disposed = true
        if (!child) return
        const state = this.#scopes.get(child)
        // tsyringe disposes only what it constructed; these providers are built by us.
        await disposeAll(state ? [...state.disposables].reverse() : [])
        await child.dispose()
      },
    }
  }

  #assertBound(key: Key<unknown>): void {
    if (!this.#registrations.has(key)) {
      throw new ResolutionError(`Nothing is bound to ${keyName(key)}; ${whenMissing(key)}.`)
    }
  }

  #singleton(registration: Registration): unknown {
    if (!this.#singletons.has(registration)) {
      throw new ResolutionError(
        `Singleton ${describeProvider(registration)} is created by app.start(); await app.start() before resolving it.`,
      )
    }
    return this.#singletons.get(registration)
  }

  #scoped(registration: Registration, container: DependencyContainer): unknown {
    if (container === this.#container) {
      throw new ResolutionError(
        `${describeProvider(registration)} is scoped (one per request) and was resolved outside a request scope; resolve it with requestContext().resolve(...) or app.createScope().resolve(...).`,
      )
    }
    const state = this.#scopeState(container)
    if (state.instances.has(registration)) return state.instances.get(registration)
    const instance = this.#transient(registration, container)
    state.instances.set(registration, instance)
    return instance
  }

  #transient(registration: Registration, container: DependencyContainer): unknown {
    const instance = this.#construct(registration, container)
    if (isThenable(instance)) {
      throw new ResolutionError(
        `${describeProvider(registration)} returned a promise but its lifetime is '${registration.lifetime}'; only singletons may be async (start awaits them).`,
      )
    }
    if (container !== this.#container && isDisposable(instance)) {
      this.#scopeState(container).disposables.push(instance)
    }
    return instance
  }

  #scopeState(container: DependencyContainer): ScopeState {
    let state = this.#scopes.get(container)
    if (!state) {
      state = { instances: new Map(), disposables: [] }
      this.#scopes.set(container, state)
    }
    return state
  }

  #construct(registration: Registration, container: DependencyContainer): unknown {
    if (registration.kind === 'value') return registration.useValue
    const args = dependenciesOf(registration).map((dependency) => {
      const { key } = dependency
      if (key === undefined) return undefined
      if (dependency.optional && !this.#registrations.has(key)) return undefined
      return container.resolve(key as InjectionToken<unknown>)
    })
    if (registration.kind === 'factory') return registration.useFactory(...args)
    const Class = registration.useClass as new (...deps: unknown[]) => unknown
    return new Class(...args)
  }
}

function lifetimeOf(module: string, key: Key<unknown>, lifetime: unknown): Lifetime {
  if (lifetime === undefined) return 'singleton'
  if (typeof lifetime === 'string' && LIFETIMES.has(lifetime)) return lifetime as Lifetime
  throw badProvider(
    module,
    key,
    `lifetime '${String(lifetime)}' is not 'singleton', 'scoped' or 'transient'`,
  )
}

function badProvider(module: string, key: Key<unknown>, why: string): ResolutionError {
  return new ResolutionError(`Module '${module}' bound ${keyName(key)} wrongly: ${why}.`)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Same test as tsyringe: a `dispose` method that takes no arguments. */
export function isDisposable(value: unknown): value is Disposable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { dispose?: unknown }).dispose === 'function' &&
    (value as { dispose: Function }).dispose.length === 0
  )
}

async function disposeAll(disposables: readonly Disposable[]): Promise<void> {
  const errors: unknown[] = []
  for (const disposable of disposables) {
    try {
      await disposable.dispose()
    } catch (error) {
      errors.push(error)
    }
  }
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) throw new AggregateError(errors, 'Disposing a request scope failed.')
}
