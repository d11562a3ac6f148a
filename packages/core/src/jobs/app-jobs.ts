import { envValue } from '../config/environment.js'
import type { App } from '../app/app.js'
import { CLOCK } from '../clock/clock.js'
import { FakeClock } from '../clock/fake-clock.js'
import type { Binder } from '../di/binder.js'
import type { Logger } from '../logger/logger.js'
import type { Database } from '../persistence/database/database.js'
import type { MigrationSource } from '../persistence/migrations/index.js'
import type { AppRedis } from '../redis/app-redis.js'
import { BullmqQueue } from './bullmq/index.js'
import type { JobDefinition } from './define-job.js'
import { InlineQueue } from './inline/index.js'
import { JOBS } from './job-queue.js'
import { JobQueueService } from './job-queue-service.js'
import type { QueueAdapter } from './queue-adapter.js'
import type { ScheduleDefinition } from './schedules/schedule.js'
import { Scheduler } from './schedules/scheduler.js'
import { SqlQueue } from './sql/index.js'
import { QueueClock } from './sql/queue-clock.js'
import type { SqlQueueInternals } from './sql/sql-queue.js'
import { DEFAULT_WORKER_SETTINGS, type WorkerSettings } from './worker/worker.js'
import { describeOption } from '../validation/number-in.js'

/** What a custom engine's factory receives. */
export interface QueueAdapterContext {
  /** The app's database, when it has one. */
  readonly database: Database | undefined
  readonly logger: Logger
}

/**
 * The `jobs` option of `createApp`.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 *
 * const app = createApp({
 *   database: 'postgres://…',
 *   modules: [shopModule],
 *   jobs: { engine: 'database', workers: { concurrency: 20 } },
 * })
 * ```
 */
export interface JobsOptions {
  /**
   * Where jobs are stored: `'database'` (the SQL queue in the app's database; the default when
   * the app has one), `'bullmq'` (BullMQ on the app's Redis, enqueued through an outbox table in
   * the app's database; needs `createApp({ database, redis })` and the `bullmq` package),
   * `'inline'` (this process's memory; the default without a database) or a factory of a
   * plugin's {@link QueueAdapter}.
   */
  readonly engine?:
    | 'database'
    | 'bullmq'
    | 'inline'
    | ((context: QueueAdapterContext) => QueueAdapter)
  /**
   * Whether this process runs workers (and schedules): `true` by default, `false` for a
   * web-only process. The `MORTAR_WORKERS` variable (`true`/`false`) overrides it, which is how
   * `mortar worker` runs the same app file as a worker. An object turns them on with settings.
   */
  readonly workers?: boolean | Partial<WorkerSettings>
}

/** A module's view for {@link createAppJobs}: its name and what it declares. */
interface JobModule {
  readonly name: string
  readonly jobs?: readonly JobDefinition[]
  readonly schedules?: readonly ScheduleDefinition[]
}

/** The jobs part of an app: its queue, its tables, its worker. */
export interface AppJobs {
  /** The engine's migrations, run before the modules' own. */
  readonly migrations: MigrationSource | undefined
  bind(binder: Binder<unknown>, app: () => App<unknown>): void
  start(app: App<unknown>): Promise<void>
  stop(app: App<unknown>, graceMs: number): Promise<void>
}

/** The module name the engine's migrations are recorded under. */
export const JOBS_MODULE = 'mortar.jobs'

/**
 * The app's jobs, or `undefined` for an app that declares none and has no `jobs` option.
 * Problems (a name declared twice, an engine without what it needs) go to `problems`, so
 * `start()` reports them with the rest.
 */
export function createAppJobs(
  options: JobsOptions | undefined,
  modules: readonly JobModule[],
  database: Database | undefined,
  redis: AppRedis | undefined,
  listenUrl: string | undefined,
  logger: Logger,
  problems: string[],
): AppJobs | undefined {
  const jobs = new Map<string, JobDefinition>()
  const schedules: ScheduleDefinition[] = []
  const owners = new Map<string, string>()
  const declare = (job: JobDefinition, module: string, what: string): boolean => {
    const owner = owners.get(job.name)
    if (owner !== undefined) {
      problems.push(
        `Two jobs or schedules are named '${job.name}' (in modules '${owner}' and '${module}'); ${what} names must be unique in the app.`,
      )
      return false
    }
    owners.set(job.name, module)
    jobs.set(job.name, job)
    return true
  }
  for (const module of modules) {
    for (const job of module.jobs ?? []) declare(job, module.name, 'job and schedule')
    for (const definition of module.schedules ?? []) {
      if (declare(definition.job, module.name, 'job and schedule')) schedules.push(definition)
    }
  }
  if (jobs.size === 0 && options === undefined) return undefined

  const engine = options?.engine ?? (database === undefined ? 'inline' : 'database')
  let adapter: QueueAdapter
  // The SQL queue's clock: the database server's, or a test app's simulated one (see bind).
  let queueClock: QueueClock | undefined
  if (engine === 'inline') adapter = new InlineQueue({ database, logger })
  else if (engine === 'database') {
    if (database === undefined) {
      problems.push(
        "The jobs engine 'database' needs the app's database: pass createApp({ database }) or set DATABASE_URL, or choose engine 'inline'.",
      )
      adapter = new InlineQueue()
    } else {
      queueClock = new QueueClock(database)
      const internals: SqlQueueInternals = { clock: queueClock }
      adapter = new SqlQueue({ database, listenUrl, logger, ...internals })
    }
  } else if (engine === 'bullmq') {
    if (database === undefined || redis === undefined) {
      problems.push(
        "The jobs engine 'bullmq' needs the app's database (its outbox table) and Redis: pass createApp({ database, redis }).",
      )
      adapter = new InlineQueue()
    } else {
      adapter = new BullmqQueue({ database, redis, logger })
    }
  } else adapter = engine({ database, logger })

  const store = adapter.schedules
  if (schedules.length > 0 && store === undefined) {
    problems.push(
      `The jobs engine '${adapter.engine}' keeps no schedules, but modules declare ${schedules.map((s) => `'${s.name}'`).join(', ')}: use an engine with a schedule store.`,
    )
  }
  const workers = workerSettings(
    options?.workers,
    envValue(process.env, 'MORTAR_WORKERS'),
    problems,
  )
  let service: JobQueueService | undefined
  let scheduler: Scheduler | undefined
  return {
    migrations:
      adapter.migrations === undefined
        ? undefined
        : { module: JOBS_MODULE, migrations: adapter.migrations },
    bind(binder, app) {
      binder.bind(JOBS, {
        inject: [CLOCK],
        useFactory: (clock) => {
          // A FakeClock stands for every clock of a test, the database's included; any other
          // clock is one machine's, which never times the SQL queue.
          if (clock instanceof FakeClock) queueClock?.simulate(clock)
          service = new JobQueueService({
            adapter,
            database,
            jobs,
            clock,
            logger,
            createScope: () => app().createScope(),
            worker: workers.settings,
          })
          return service
        },
      })
    },
    async start(app) {
      if (engine === 'inline' && !workers.enabled) {
        logger.debug("Jobs: engine 'inline' with workers off; jobs run only through drain()")
      }
      const queue = app.resolve(JOBS) as JobQueueService
      if (store !== undefined && schedules.length > 0) {
        scheduler = new Scheduler({ schedules, store, queue, clock: app.resolve(CLOCK), logger })
        queue.setDrainHook(scheduler)
        await scheduler.register()
      }
      await queue.start(workers.enabled)
      // Only processes that run workers fire schedules; a web-only one leaves them to those.
      if (workers.enabled) await scheduler?.start()
    },
    async stop(_app, graceMs) {
      await scheduler?.stop()
      await service?.stop(graceMs)
    },
  }
}

function workerSettings(
  option: boolean | Partial<WorkerSettings> | undefined,
  env: string | undefined,
  problems: string[],
): { enabled: boolean; settings: WorkerSettings } {
  let enabled = option !== false
  if (env !== undefined) {
    if (env === 'true' || env === '1') enabled = true
    else if (env === 'false' || env === '0') enabled = false
    else problems.push(`MORTAR_WORKERS must be 'true' or 'false' (got '${env}').`)
  }
  const given = typeof option === 'object' ? option : {}
  const settings = { ...DEFAULT_WORKER_SETTINGS, ...given }
  for (const [name, value] of Object.entries(settings)) {
    // Past 2^31 − 1 Node's timers fire at once: a poll or lease timer would spin.
    if (!(Number.isInteger(value) && value >= 1 && value <= 2_147_483_647)) {
      problems.push(
        `jobs.workers.${name} must be a whole number from 1 to 2147483647 (got ${describeOption(value)}).`,
      )
    }
  }
  return { enabled, settings }
}
