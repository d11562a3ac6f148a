import { envValue } from '../config/environment.js'
import { processGlobal } from '../global/index.js'
import type { DependencyContainer } from 'tsyringe'
import { CLOCK, SystemClock } from '../clock/clock.js'
import type { RequestScope } from '../context/request-context.js'
import type { Binder } from '../di/binder.js'
import { ProviderRegistry } from '../di/provider-registry.js'
import type { Key } from '../di/token.js'
import { container as rootContainer } from '../di/tsyringe.js'
import { EVENT_BUS, EventBus } from '../events/event-bus.js'
import { createLogger } from '../logger/create-logger.js'
import { LOGGER, type Logger } from '../logger/logger.js'
import type { Database } from '../persistence/database/database.js'
import { DatabaseError } from '../persistence/database/database-error.js'
import {
  type AppDatabaseOption,
  type AppHealth,
  appHealth,
  appMigrationStatus,
  bindAppDatabase,
  createAppDatabase,
  type MigrateOptions,
  migrateAppDatabase,
  migrationSources,
  startAppDatabase,
  checkPendingMigrations,
} from '../persistence/database/app-database.js'
import type { MigrationReport, MigrationStatus } from '../persistence/migrations/index.js'
import { type AppJobs, createAppJobs, type JobsOptions } from '../jobs/app-jobs.js'
import { AppRedis, type AppRedisOption, REDIS } from '../redis/app-redis.js'
import { parseDatabaseUrl } from '../persistence/database/database-url.js'
import type { AfterCommitFailure } from '../persistence/transactions/after-commit-failure.js'
import type { App, AppState, StopOptions } from './app.js'
import { APP_CONFIG } from './app-config.js'
import type { Module } from './define-module.js'
import { ShutdownError } from './shutdown-error.js'
import { StartupError } from './startup-error.js'
import { stopOnSignals } from './stop-on-signals.js'
import { thrownText } from '../errors/thrown-text.js'
import { describeOption, isNumberIn, MAX_TIMER_MS } from '../validation/number-in.js'

/** Options of {@link createApp}. */
export interface CreateAppOptions<C> {
  /** The modules, in start order; they stop in reverse. */
  readonly modules: readonly Module<NoInfer<C>>[]
  /** The app's config; bound under `APP_CONFIG` and handed to each module's `register`. */
  readonly config?: C
  /** The logger bound under `LOGGER`; `createLogger()` by default. */
  readonly logger?: Logger
  /**
   * Rebinds keys after every module registered, for tests: an override replaces the key's
   * provider, and the start-up check does not ask for the override's own dependencies.
   */
  readonly overrides?: (binder: Binder<C>) => void
  /**
   * The app's database URL (`sqlite:./var/app.db`, `postgres://…`, `mysql://…`) or options;
   * `DATABASE_URL` when omitted. Binds `DATABASE` and `databaseToken()`, connects on `start()`,
   * closes the pool on `stop()`.
   */
  readonly database?: AppDatabaseOption
  /**
   * Background jobs: the engine and whether this process runs workers. Apps whose modules
   * declare `jobs` get them without this option (the SQL queue in the app's database, or the
   * inline queue without one); `JOBS` is then bound.
   */
  readonly jobs?: JobsOptions
  /**
   * The app's Redis (`redis://…`), shared by the session registry, the login throttle and the
   * BullMQ engine: binds `REDIS`, connects on `start()`, closes on `stop()`. Nothing secret in
   * the URL is logged.
   */
  readonly redis?: AppRedisOption
}

const DEFAULT_STOP_TIMEOUT_MS = 10_000

/** When a stop (or a failed start's rollback) must be over, by `performance.now()`. */
interface StopDeadline {
  readonly at: number
  readonly timeoutMs: number
}

function stopDeadline(timeoutMs: number): StopDeadline {
  return { at: performance.now() + timeoutMs, timeoutMs }
}
const BUILT_IN = 'mortar'

/**
 * Composes modules into an {@link App}. It binds `APP_CONFIG`, `LOGGER`, `CLOCK` and `EVENT_BUS`,
 * then runs each module's `register` in order; `start()` checks the dependency graph, creates
 * the singletons (awaiting async factories) and runs each `onStart`.
 *
 * @example
 * ```ts
 * import { createApp, defineModule } from '@mortar/core'
 *
 * class Greeter { greet(name: string) { return `Hello, ${name}` } }
 * const greeting = defineModule({ name: 'greeting', register: (binder) => binder.bind(Greeter) })
 *
 * const app = createApp({ modules: [greeting], config: { port: 3000 } })
 * await app.start()
 * app.resolve(Greeter).greet('Ada')
 * app.handleSignals()
 * ```
 */
export function createApp<C = undefined>(options: CreateAppOptions<C>): App<C> {
  return new MortarApp(options)
}

// Process-wide, so the testing helpers and the CLI of either build find an app of the other.
const registries = processGlobal('mortar.registries', () => new WeakMap<object, ProviderRegistry>())
const appModules = processGlobal(
  'mortar.appModules',
  () => new WeakMap<object, readonly Module<never>[]>(),
)

/** The modules of an app made by {@link createApp}, or `undefined`. Internal: for the CLI. */
export function modulesOf(app: object): readonly Module<never>[] | undefined {
  return appModules.get(app)
}

/** The provider registry behind an app made by {@link createApp}. Internal: for the testing helpers. */
export function registryOf(app: App<unknown>): ProviderRegistry {
  const registry = registries.get(app)
  if (!registry) throw new TypeError('This app was not made by createApp from @mortar/core.')
  return registry
}

class MortarApp<C> implements App<C> {
  readonly config: C
  readonly container: DependencyContainer
  readonly logger: Logger
  readonly #modules: readonly Module<C>[]
  readonly #registry: ProviderRegistry
  readonly #started: Module<C>[] = []
  readonly #setupProblems: string[] = []
  readonly #database: Database | undefined
  readonly #jobs: AppJobs | undefined
  readonly #redis: AppRedis | undefined
  #state: AppState = 'created'
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(options: CreateAppOptions<C>) {
    this.config = options.config as C
    this.logger = options.logger ?? createLogger()
    this.container = rootContainer.createChildContainer()
    this.#modules = options.modules
    this.#registry = new ProviderRegistry(this.container)
    registries.set(this, this.#registry)
    appModules.set(this, this.#modules as readonly Module<never>[])

    const builtIn = this.#registry.binder(BUILT_IN, this.config)
    builtIn.bind(APP_CONFIG, { useValue: this.config as never })
    builtIn.bind(LOGGER, { useValue: this.logger })
    builtIn.bind(CLOCK, { useClass: SystemClock })
    builtIn.bind(EVENT_BUS, { inject: [LOGGER], useFactory: (logger) => new EventBus(logger) })
    this.#database = createAppDatabase(options.database, this.logger, (failure) =>
      this.#publishAfterCommitFailure(failure),
    )
    if (this.#database) bindAppDatabase(builtIn, this.#database)
    let redis: AppRedis | undefined
    if (options.redis !== undefined) {
      try {
        redis = new AppRedis(options.redis, this.logger)
        builtIn.bind(REDIS, { useValue: redis })
      } catch (error) {
        // Reported by start() with the other problems; the message never holds the URL.
        this.#setupProblems.push(thrownText(error))
      }
    }
    this.#redis = redis
    this.#jobs = createAppJobs(
      options.jobs,
      this.#modules,
      this.#database,
      redis,
      listenUrl(this.#database, options.database),
      this.logger,
      this.#setupProblems,
    )
    this.#jobs?.bind(builtIn as Binder<unknown>, () => this)

    const names = new Set<string>([BUILT_IN])
    for (const module of this.#modules) {
      if (names.has(module.name)) {
        this.#setupProblems.push(
          `Two modules are named '${module.name}' (or one is added twice); give each module a unique name.`,
        )
      }
      names.add(module.name)
      module.register(this.#registry.binder(module.name, this.config))
    }
    options.overrides?.(this.#registry.binder('overrides', this.config, { overridden: true }))
    this.#registry.install()
  }

  get state(): AppState {
    return this.#state
  }

  start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    if (this.#state !== 'created') {
      throw new StartupError([`The app is ${this.#state}; an app starts once, create a new one.`])
    }
    this.#state = 'starting'
    const report = this.#registry.check()
    const problems = [...this.#setupProblems, ...report.problems]
    if (problems.length > 0) {
      this.#state = 'stopped'
      throw new StartupError(problems)
    }
    try {
      // Before the singletons, so a factory may query; a bad URL fails here with a DatabaseError.
      if (this.#database) {
        await startAppDatabase(this.#database, this.logger)
        await checkPendingMigrations(this.#database, this.#migrationSources(), this.logger)
      }
      await this.#redis?.connect()
      await this.#registry.createSingletons(report.singletonOrder)
      this.#stillStarting()
    } catch (error) {
      // A stop gave up waiting for this start and closed what was open then: what the start
      // made since (singletons, a connection) is closed here.
      if (this.#state !== 'starting') {
        await this.#closeAbandoned()
        throw error
      }
      this.#state = 'stopped'
      const deadline = stopDeadline(DEFAULT_STOP_TIMEOUT_MS)
      await this.#closeConnections(deadline)
      await this.#disposeSingletons(deadline)
      throw error
    }
    for (const module of this.#modules) {
      let started = false
      try {
        await module.onStart?.(this)
        started = true
        this.#stillStarting()
      } catch (error) {
        if (this.#state !== 'starting') {
          // A stop gave up on this onStart, which then finished: what it opened is closed here,
          // the stop having stopped every module before it.
          if (started) {
            this.#started.push(module)
            await this.#stopModules(stopDeadline(DEFAULT_STOP_TIMEOUT_MS))
          }
          throw error
        }
        this.logger.error(
          { err: error, module: module.name },
          `Module '${module.name}' failed to start; stopping the modules already started`,
        )
        const deadline = stopDeadline(DEFAULT_STOP_TIMEOUT_MS)
        await this.#stopModules(deadline)
        await this.#disposeSingletons(deadline)
        await this.#closeConnections(deadline)
        this.#state = 'stopped'
        throw error
      }
      this.#started.push(module)
    }
    try {
      // Last: handlers may use anything the modules started.
      await this.#jobs?.start(this)
      this.#stillStarting()
    } catch (error) {
      await this.#jobs?.stop(this, 0).catch(() => undefined)
      if (this.#state !== 'starting') throw error
      this.logger.error({ err: error }, 'Jobs failed to start; stopping the modules')
      const deadline = stopDeadline(DEFAULT_STOP_TIMEOUT_MS)
      await this.#stopModules(deadline)
      await this.#disposeSingletons(deadline)
      await this.#closeConnections(deadline)
      this.#state = 'stopped'
      throw error
    }
    this.#state = 'started'
    this.logger.debug({ modules: this.#modules.map((m) => m.name) }, 'App started')
  }

  stop(options: StopOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS
    // A timer fires at once for NaN or past 2^31 − 1 ms: every module's onStop (an analytics
    // flush) would be cut off and the database closed under it. Refused before anything stops.
    if (!isNumberIn(timeoutMs, 0, MAX_TIMER_MS)) {
      return Promise.reject(
        new TypeError(
          `stop() needs timeoutMs from 0 to ${MAX_TIMER_MS} ms; got ${describeOption(options.timeoutMs)}.`,
        ),
      )
    }
    this.#stopping ??= this.#stop(timeoutMs)
    return this.#stopping
  }

  async #stop(timeoutMs: number): Promise<void> {
    // One deadline for the whole stop, each step getting what is left of it: a deadline per
    // step let a stop of n hung steps take n times timeoutMs. Waiting for a start (a hung
    // onStart) is one of the steps.
    const deadline = stopDeadline(timeoutMs)
    const starting = this.#starting
    const startFailure =
      starting === undefined
        ? undefined
        : await this.#withDeadline('start()', deadline, () => starting.catch(() => undefined))
    const failures = startFailure === undefined ? [] : [startFailure]
    if (this.#state === 'started') {
      this.#state = 'stopping'
      const jobs = this.#jobs
      // First: running jobs may use what the modules own. They get most of the deadline; the
      // rest is for aborting the stragglers, giving their jobs back, and the steps below.
      const left = Math.max(0, deadline.at - performance.now())
      const jobsFailure =
        jobs === undefined
          ? undefined
          : await this.#withDeadline('Stopping the job workers', deadline, () =>
              jobs.stop(this, Math.max(0, left - Math.min(1_000, left / 4))),
            )
      if (jobsFailure) failures.push(jobsFailure)
    }
    const startedOrHung = this.#state !== 'stopped'
    // A start still hung stops here: its later steps see the state and give up.
    this.#state = 'stopping'
    if (startedOrHung) {
      failures.push(...(await this.#stopModules(deadline)))
      failures.push(...(await this.#disposeSingletons(deadline)))
    }
    // Last: modules and singletons may still write while they stop. An app used only for
    // `migrate()`, or whose start failed, has no modules to stop, but its pool may be open.
    failures.push(...(await this.#closeConnections(deadline)))
    this.#state = 'stopped'
    if (failures.length > 0) throw new ShutdownError(failures)
    this.logger.debug('App stopped')
  }

  /** Closes what a start made after the stop that gave up on it had closed what was open. */
  async #closeAbandoned(): Promise<void> {
    const deadline = stopDeadline(DEFAULT_STOP_TIMEOUT_MS)
    await this.#disposeSingletons(deadline)
    await this.#closeConnections(deadline)
  }

  /** Throws when a stop took over while this start was awaiting a step. */
  #stillStarting(): void {
    if (this.#state !== 'starting') {
      throw new StartupError(['The app was stopped while it was starting.'])
    }
  }

  /** Closes the database, then Redis, within what is left of the deadline. */
  async #closeConnections(deadline: StopDeadline): Promise<string[]> {
    const failures: string[] = []
    const database = this.#database
    if (database) {
      const failure = await this.#withDeadline('Closing the database', deadline, () =>
        database.destroy(),
      )
      if (failure) failures.push(failure)
    }
    const redis = this.#redis
    if (redis) {
      const failure = await this.#withDeadline('Closing Redis', deadline, () => redis.close())
      if (failure) failures.push(failure)
    }
    return failures
  }

  /** Runs `onStop` of the started modules, newest first, within what is left of the deadline. */
  async #stopModules(deadline: StopDeadline): Promise<string[]> {
    const failures: string[] = []
    while (this.#started.length > 0) {
      const module = this.#started.pop() as Module<C>
      const onStop = module.onStop
      if (!onStop) continue
      const failure = await this.#withDeadline(`Module '${module.name}' onStop`, deadline, () =>
        onStop(this),
      )
      if (failure) failures.push(failure)
    }
    return failures
  }

  /** Disposes the singletons the container constructed, newest first. */
  async #disposeSingletons(deadline: StopDeadline): Promise<string[]> {
    const failures: string[] = []
    for (const disposable of this.#registry.takeDisposableSingletons()) {
      const name = (disposable as object).constructor?.name || 'a singleton'
      const failure = await this.#withDeadline(`dispose() of ${name}`, deadline, () =>
        disposable.dispose(),
      )
      if (failure) failures.push(failure)
    }
    return failures
  }

  // A hung step must not keep the process alive: after the deadline it is logged and left behind.
  // A step reached after the deadline still starts (a pool still gets its close), unwaited.
  async #withDeadline(
    what: string,
    deadline: StopDeadline,
    step: () => unknown,
  ): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined
    const passed = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline.at - performance.now()))
      timer.unref()
    })
    try {
      const outcome = await Promise.race([Promise.resolve().then(step), passed])
      if (outcome !== 'timeout') return undefined
      const timeoutMs = deadline.timeoutMs
      const failure = `${what} did not finish within the stop's deadline of ${timeoutMs} ms; moved on without it.`
      this.logger.error({ timeoutMs }, failure)
      return failure
    } catch (error) {
      const failure = `${what} failed: ${thrownText(error)}`
      this.logger.error({ err: error }, failure)
      return failure
    } finally {
      clearTimeout(timer)
    }
  }

  resolve<T>(key: Key<T>): T {
    return this.#registry.resolve(key)
  }

  async migrate(options?: MigrateOptions): Promise<MigrationReport> {
    return migrateAppDatabase(this.#requireDatabase('migrate'), this.#migrationSources(), options)
  }

  async migrationStatus(): Promise<MigrationStatus[]> {
    return appMigrationStatus(this.#requireDatabase('migrationStatus'), this.#migrationSources())
  }

  /** The engine's tables first, then the modules' migrations in module order. */
  #migrationSources() {
    const jobs = this.#jobs?.migrations
    return [...(jobs === undefined ? [] : [jobs]), ...migrationSources(this.#modules)]
  }

  health(): Promise<AppHealth> {
    return appHealth(this.#database)
  }

  async #publishAfterCommitFailure(failure: AfterCommitFailure): Promise<void> {
    let bus: EventBus
    try {
      bus = this.resolve(EVENT_BUS)
    } catch {
      // Before start (a migration's transaction) the bus does not exist yet; the failure was logged.
      return
    }
    await bus.publish('mortar.after_commit_failed', failure)
  }

  #requireDatabase(what: string): Database {
    if (this.#database) return this.#database
    throw new DatabaseError(
      'E_DATABASE_URL',
      `app.${what}() needs a database: pass createApp({ database: 'sqlite:./var/app.db' }) or set DATABASE_URL.`,
    )
  }

  createScope(): RequestScope {
    return this.#registry.createScope()
  }

  handleSignals(options: StopOptions = {}): () => void {
    return stopOnSignals(() => this.stop(options), this.logger)
  }
}

/** PostgreSQL: the URL the job listener connects with; nothing for other engines. */
function listenUrl(
  database: Database | undefined,
  option: AppDatabaseOption | undefined,
): string | undefined {
  if (database?.engine !== 'postgres') return undefined
  try {
    return parseDatabaseUrl(option ?? envValue(process.env, 'DATABASE_URL') ?? '').connectionUrl
  } catch {
    // The same URL fails start with a clear DatabaseError.
    return undefined
  }
}
