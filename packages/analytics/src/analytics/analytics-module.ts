import {
  ChurnVacuum,
  CLOCK,
  DATABASE,
  type Database,
  defineJob,
  EVENT_BUS,
  JOBS,
  LOGGER,
  type Module,
  type RequestContext,
  defineModule,
  schedule,
} from '@mortar/core'
import type { BufferOptions } from '../buffer/index.js'
import type { EventSchemas } from '../catalog/define-events.js'
import { AnalyticsConfigError, AnalyticsForgetError, ForgetTimeoutError } from '../errors.js'
import { withDeadline } from '../buffer/index.js'
import type { ConsentOptions } from '../privacy/consent.js'
import type { CountryLookup } from '../privacy/request-fields.js'
import {
  type ForgetCounts,
  type ForgetReport,
  forgetUser,
  purgeEventsBefore,
  purgeLinksBefore,
  suppressAnonymous,
} from '../privacy/forget-user.js'
import { checkedAfterWrite } from '../privacy/late-writes.js'
import { Suppressions } from '../privacy/suppressions.js'
import { VisitorIds } from '../privacy/visitor-ids.js'
import { AnalyticsQueries } from '../queries/analytics-queries.js'
import type { QueryScope } from '../queries/query-scope.js'
import { Recommendations } from '../recommendations/recommendations.js'
import {
  type CountsConfig,
  type RecommendationsConfig,
  purgeUnitsBefore,
  Rollups,
  rollupPlan,
} from '../rollups/index.js'
import { engineOf } from '../storage/sql-dialect.js'
import { checkTimeZone } from '../time/zoned-time.js'
import type { EventSink } from '../sinks/event-sink.js'
import { SqlEventSink } from '../sinks/sql/sql-event-sink.js'
import { analyticsMigrations } from '../storage/analytics-migrations.js'
import { CHURNED_TABLES } from '../storage/analytics-tables.js'
import { type DropReport, type IdentityResolver, Tracker, userIdOf } from '../tracker/index.js'
import { ANALYTICS, Analytics } from './analytics.js'
import { z } from 'zod'

/** Options of {@link analyticsModule}. */
export interface AnalyticsModuleOptions<E extends EventSchemas> {
  /** The event catalogue, from `defineEvents`. */
  readonly events: E
  /** Buffer sizes, flush triggers and the overflow policy. */
  readonly buffer?: BufferOptions
  /** Where events go; the app database by default (`SqlEventSink`). */
  readonly sink?: EventSink
  /**
   * Who the visitor of a request is. By default the user id is the request principal's `id`
   * (set by your auth), and the anonymous id a cookieless daily visitor id.
   */
  readonly identity?: IdentityResolver
  /** Consent per request; without this option every event is recorded with its identity. */
  readonly consent?: ConsentOptions
  /**
   * The country of a request, stored with its events (none by default). Each event of a
   * request also keeps its user agent and its IP address truncated to the network (IPv4 /24,
   * IPv6 /48); without consent none of these are recorded.
   */
  readonly country?: CountryLookup
  /** Mixed into cookieless visitor ids, so two sites on one database never share them (default `'default'`). */
  readonly site?: string
  /** Called with each report of dropped events (also published as `analytics.events_dropped`). */
  readonly onDrop?: (report: DropReport) => void
  /** How long `app.stop()` flushes before dropping (and reporting) what is left, in ms (default 5,000). */
  readonly flushOnStopMs?: number
  /** The IANA time zone of the daily rollups and the queries' default (default `'UTC'`). */
  readonly timeZone?: string
  /** Properties counted per day for `top()` and filtered `series()`, per event. */
  readonly counts?: CountsConfig<E>
  /** The events behind `alsoViewed` and `alsoBought`. */
  readonly recommendations?: RecommendationsConfig<E>
  /** The page script's heartbeat interval, in seconds (default 15); `dwell()` counts one per heartbeat. */
  readonly heartbeatSeconds?: number
  /**
   * Events older than this many days are deleted by the retention run, and with them the unit
   * rows and identity links that name a person (default 395, 13 months; at most 36,525, a
   * century).
   */
  readonly retentionDays?: number
  /** How often the rollup schedule runs: milliseconds or `'30s'`, `'5m'` (default `'1m'`). */
  readonly rollupEvery?: number | string
}

/**
 * The identity resolver used when none is given: the principal's `id`, if it has one. An id that
 * is not a string, bigint or safe integer throws an {@link AnalyticsIdentityError}, so its
 * events are kept as failed with the reason, never recorded under a bogus or merged user.
 */
export function principalIdentity(context: RequestContext): { userId?: string } | undefined {
  const id = (context.get('principal') as { id?: unknown } | undefined)?.id
  if (id === undefined || id === null) return undefined
  return { userId: userIdOf('principal id', id) }
}

/**
 * The analytics module: binds `ANALYTICS`, carries the migrations of its tables (`app.migrate()`
 * runs them), schedules the rollup (every `rollupEvery`) and the retention (daily at 03:15 in
 * `timeZone`) on core's jobs, and on `app.stop()` flushes the buffer within `flushOnStopMs`. It
 * needs the app database (`createApp({ database })`).
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { analyticsModule, defineEvents } from '@mortar/analytics'
 * import { z } from 'zod'
 *
 * const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })
 * const app = createApp({ database: 'sqlite:./var/app.db', modules: [analyticsModule({ events })] })
 * await app.migrate()
 * await app.start()
 * app.handleSignals()
 * ```
 */
export function analyticsModule<const E extends EventSchemas>(
  options: AnalyticsModuleOptions<E>,
): Module {
  const flushOnStopMs = options.flushOnStopMs ?? 5_000
  checkBuffer(options.buffer)
  if (!(flushOnStopMs >= 0 && flushOnStopMs <= MAX_TIMER_MS)) {
    throw new AnalyticsConfigError(
      `flushOnStopMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS}; got ${flushOnStopMs}.`,
    )
  }
  const timeZone = options.timeZone ?? 'UTC'
  checkTimeZone(timeZone)
  const heartbeatSeconds = options.heartbeatSeconds ?? 15
  const retentionDays = options.retentionDays ?? 395
  for (const [name, value] of [
    ['heartbeatSeconds', heartbeatSeconds],
    ['retentionDays', retentionDays],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new AnalyticsConfigError(`${name} must be a positive integer; got ${value}.`)
    }
  }
  if (retentionDays > MAX_RETENTION_DAYS) {
    throw new AnalyticsConfigError(
      `retentionDays must be at most ${MAX_RETENTION_DAYS} (a century); got ${retentionDays}.`,
    )
  }
  const plan = rollupPlan({
    events: options.events,
    timeZone,
    counts: options.counts,
    recommendations: options.recommendations,
  })
  let tracker: Tracker | undefined
  let finishForget: ((payload: ForgetJobPayload) => Promise<void>) | undefined
  // forgetUser's request with a sink of the app's own: it runs the erasure again (each step
  // finds nothing left of a finished one), retried with backoff by core's jobs, after a crash
  // from the next start on. Also recorded when a write stored events of an identity forgotten
  // meanwhile (see checkedAfterWrite): a user's, or anonymous ones under suppressed ids.
  const forgetJob = defineJob({
    name: 'analytics.forget',
    schema: z.union([
      z.object({ userId: z.string() }),
      z.object({ anonymousIds: z.array(z.string()).min(1) }),
    ]),
    attempts: 20,
    // A sink that hangs fails the attempt, retried later, rather than hold a worker for ever.
    timeout: FORGET_TIMEOUT_MS,
    async handler(payload, job) {
      // Made with ANALYTICS: resolving it sets finishForget.
      job.resolve(ANALYTICS)
      await finishForget?.(payload)
    },
  })
  return defineModule({
    name: 'analytics',
    migrations: analyticsMigrations,
    jobs: [forgetJob],
    register(binder) {
      binder.bind(ANALYTICS, {
        inject: [DATABASE, CLOCK, LOGGER, EVENT_BUS, JOBS],
        useFactory: (database, clock, logger, bus, jobs) => {
          const db = database.kysely
          const scope: QueryScope = { db, engine: engineOf(db), timeZone }
          const visitorIds = new VisitorIds(database, options.site ?? 'default', clock)
          const suppressions = new Suppressions(db)
          const rollups = new Rollups(scope, plan)
          const own = options.sink
          const made = new Tracker({
            events: options.events,
            // The SQL sink checks suppressions in each write's transaction; the app's own cannot.
            sink:
              own === undefined
                ? new SqlEventSink({ db, clock })
                : checkedAfterWrite(own, suppressions, async (late) => {
                    await jobs.enqueueMany(forgetJob, [
                      ...late.userIds.map((userId) => ({ payload: { userId } })),
                      ...(late.anonymousIds.length === 0
                        ? []
                        : [{ payload: { anonymousIds: [...late.anonymousIds] } }]),
                    ])
                  }),
            clock,
            logger,
            bus,
            database,
            visitorIds,
            suppressions,
            buffer: options.buffer,
            identity: options.identity ?? principalIdentity,
            consent: options.consent,
            country: options.country,
            onDrop: options.onDrop,
          })
          tracker = made
          const erase = async (userId: string) => {
            const report = await forgetUser(scope, plan, userId, clock.nowMs())
            suppressions.remember()
            return report
          }
          // The sink's links are read and their anonymous ids suppressed before its forget
          // deletes them: the other way round, a crash between the two lost them for good (a
          // second forget finds no link), and their later events with no user were stored.
          const eraseFromSink = async (userId: string): Promise<ForgetCounts> => {
            if (own?.forget === undefined || own.linkedAnonymousIds === undefined) return NONE
            await suppressAnonymous(scope, await own.linkedAnonymousIds(userId), clock.nowMs())
            const erased = await own.forget(userId)
            // Links written to the sink meanwhile (a batch of another process in flight).
            await suppressAnonymous(scope, erased.anonymousIds, clock.nowMs())
            return erased
          }
          finishForget = async (payload) => {
            if ('userId' in payload) {
              await erase(payload.userId)
              await eraseFromSink(payload.userId)
              return
            }
            // The SQL sink never stores what is suppressed when it commits: nothing to erase.
            if (own === undefined) return
            if (own.forgetAnonymous === undefined) {
              throw new AnalyticsForgetError(own.constructor.name)
            }
            await own.forgetAnonymous(payload.anonymousIds)
          }
          return new Analytics({
            tracker: made,
            now: () => clock.nowMs(),
            timeZone,
            heartbeatSeconds,
            queries: new AnalyticsQueries(scope, plan, heartbeatSeconds * 1_000),
            recommendations: new Recommendations(scope),
            rollup: () => rollups.run(),
            async forgetUser(given, forgetOptions) {
              const userId = userIdOf('user id', given)
              const timeoutMs = forgetOptions?.timeoutMs ?? FORGET_TIMEOUT_MS
              if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMER_MS)) {
                throw new AnalyticsConfigError(
                  `forgetUser's timeoutMs must be a whole number from 1 to ${MAX_TIMER_MS}; got ${timeoutMs}.`,
                )
              }
              // A sink of the app's own holds events only it can delete: refused before anything
              // is done rather than reported erased.
              if (
                own !== undefined &&
                (own.forget === undefined ||
                  own.linkedAnonymousIds === undefined ||
                  own.forgetAnonymous === undefined)
              ) {
                throw new AnalyticsForgetError(own.constructor.name)
              }
              // Within a bound: a write that never answers (a sink that hangs) may still store the
              // user's events, so the erasure waits for it, and fails rather than report them
              // gone. Past the deadline no further step starts.
              let expired = false
              const step = () => {
                if (expired) throw new ForgetTimeoutError(timeoutMs)
              }
              const run = async (): Promise<ForgetReport> => {
                // The request, recorded before anything is erased: a run cut short (a crash, the
                // sink down, the deadline) is finished by the job, which runs the same steps.
                if (own !== undefined) {
                  await jobs.enqueue(forgetJob, { userId }, { delay: FORGET_JOB_DELAY_MS })
                }
                // Buffered events of theirs are written, then deleted with the rest. Only once
                // that commits are their events skipped here, as in every other process: a
                // deletion that fails leaves them recorded, and the rollup deletes any written
                // meanwhile.
                step()
                await made.settle()
                step()
                const report = await erase(userId)
                // What was tracked before the erasure and not yet written goes to the sink first.
                if (own !== undefined) {
                  step()
                  await made.settle()
                }
                step()
                const erased = await eraseFromSink(userId)
                return {
                  events: report.events + erased.events,
                  failedEvents: report.failedEvents + erased.failedEvents,
                  identityLinks: report.identityLinks + erased.identityLinks,
                  rollupsKeptBefore: report.rollupsKeptBefore,
                }
              }
              return withDeadline(run(), timeoutMs, () => {
                expired = true
                return new ForgetTimeoutError(timeoutMs)
              })
            },
            async applyRetention() {
              await visitorIds.deleteExpiredSalts()
              const cut = clock.nowMs() - retentionDays * 86_400_000
              const deleted = await purgeEventsBefore(scope, cut)
              // Then the rows that tie a person to what they did: each outlives the events
              // it came from only while a stored event still uses it.
              await purgeUnitsBefore(scope, plan, cut)
              await purgeLinksBefore(scope, cut)
              return deleted
            },
          })
        },
      })
    },
    // Core's schedules: each tick runs once across every process of the app. Each ends by
    // reclaiming the dead rows left by it and by whatever ran since (writes, forgetUser).
    schedules: [
      schedule('analytics.rollup', { every: options.rollupEvery ?? '1m' }, async (_tick, job) => {
        const report = await job.resolve(ANALYTICS).rollup()
        if (report.batches > 0) job.logger.debug(report, 'Analytics rollup')
        await reclaimTables(job.resolve(DATABASE))
      }),
      schedule('analytics.retention', { cron: '15 3 * * *', timeZone }, async (_tick, job) => {
        const deleted = await job.resolve(ANALYTICS).applyRetention()
        job.logger.info({ deleted, retentionDays }, 'Analytics retention applied')
        await reclaimTables(job.resolve(DATABASE))
      }),
    ],
    async onStop() {
      await tracker?.close(flushOnStopMs)
    },
  })
}

/**
 * Vacuums each analytics table whose dead rows passed 50 + 20% of its live ones, on PostgreSQL:
 * a server running no autovacuum (many managed ones, or one turned off) never reclaims them
 * otherwise, and every scan of a rollup table walked them.
 */
async function reclaimTables(database: Database): Promise<void> {
  for (const table of CHURNED_TABLES) {
    await new ChurnVacuum({ database, table, every: 1 }).vacuumIfDead()
  }
}

type ForgetJobPayload = { readonly userId: string } | { readonly anonymousIds: readonly string[] }

// How long the forget job waits before it runs: forgetUser's own run has normally finished by
// then, and the job finds nothing left to erase.
const FORGET_JOB_DELAY_MS = 60_000

// How long forgetUser (and each run of its job) may take by default: writes have 30 s each.
const FORGET_TIMEOUT_MS = 60_000

const NONE: ForgetCounts = { events: 0, failedEvents: 0, identityLinks: 0 }

// A century. The retention's cut, now − retentionDays × 86,400,000 ms, then stays an exact
// integer (its size under 2^42, far inside 2^53), a valid Date and a bigint every engine takes;
// past about 10^8 days it is no exact integer, past 10^300 not finite, and the nightly run fails.
// A century already keeps every event stored since 1970 until the 2070s.
const MAX_RETENTION_DAYS = 36_525

// Node's timers take at most 2^31 − 1 ms and fire at once past it (or for NaN): a flush on stop
// would give up at once and drop the buffer; an age or retry timer would spin.
const MAX_TIMER_MS = 2_147_483_647

function checkBuffer(buffer: BufferOptions | undefined): void {
  if (buffer === undefined) return
  for (const key of [
    'capacity',
    'batchSize',
    'batchBytes',
    'maxAgeMs',
    'retryBaseMs',
    'retryMaxMs',
    'writeTimeoutMs',
  ] as const) {
    const value = buffer[key]
    if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_TIMER_MS)) {
      throw new AnalyticsConfigError(
        `buffer.${key} must be a whole number from 1 to ${MAX_TIMER_MS}; got ${value}.`,
      )
    }
  }
  if (buffer.batchSize !== undefined && buffer.batchSize > (buffer.capacity ?? 10_000)) {
    throw new AnalyticsConfigError(
      `buffer.batchSize (${buffer.batchSize}) cannot exceed buffer.capacity (${buffer.capacity ?? 10_000}).`,
    )
  }
  const overflow = buffer.overflow
  if (overflow !== undefined && !['block', 'drop-oldest', 'drop-newest'].includes(overflow)) {
    throw new AnalyticsConfigError(
      `buffer.overflow must be 'block', 'drop-oldest' or 'drop-newest'; got '${overflow}'.`,
    )
  }
}
