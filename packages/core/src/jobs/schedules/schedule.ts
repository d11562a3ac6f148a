import { z } from 'zod'
import { thrownText } from '../../errors/thrown-text.js'
import type { BackoffOptions } from '../backoff.js'
import { defineJob, type JobDefinition } from '../define-job.js'
import type { JobContext } from '../job-context.js'
import { Cron } from './cron.js'
import { describeOption } from '../../validation/number-in.js'

/** One firing of a schedule, as its handler sees it. */
export interface ScheduleTick {
  /** The schedule's name. */
  readonly name: string
  /** The instant this tick stands for (a missed tick run late still carries its own instant). */
  readonly at: Date
}

/** What a schedule runs on each tick, as a job: retried, timed out and logged like one. */
export type ScheduleHandler = (tick: ScheduleTick, job: JobContext) => Promise<void> | void

/** The job settings a schedule's ticks run with. */
export interface ScheduleJobOptions {
  readonly attempts?: number
  readonly backoff?: BackoffOptions
  readonly timeout?: number
}

/**
 * When a schedule fires: `every` (ms, or `'30s'`, `'5m'`, `'1h'`, `'1d'`; instants are
 * multiples of it since the epoch, so every process agrees on them) or a five-field `cron`
 * expression read in `timeZone` (default UTC).
 */
export type ScheduleTiming = ScheduleJobOptions &
  (
    | { readonly every: number | string; readonly cron?: never; readonly timeZone?: never }
    | { readonly cron: string; readonly timeZone?: string; readonly every?: never }
  )

const tickSchema = z.object({ at: z.iso.datetime() })

/** A schedule made by {@link schedule}; a module lists it in `schedules`. */
export interface ScheduleDefinition {
  readonly name: string
  /** The timing as text (`every 300000`, `cron 0 3 * * * Europe/Paris`): a change resets the next tick. */
  readonly spec: string
  /** The job each tick enqueues, named like the schedule. */
  readonly job: JobDefinition<typeof tickSchema>
  /** The first instant strictly after `afterMs`. */
  next(afterMs: number): number
}

// The schedule's row holds its timing as text in a varchar(400) and its ticks as instants: a
// longer spec, or an interval whose ticks no Date holds (past 8.64e15 ms), was stored by SQLite
// (the ticks as a float no clock reaches, so the schedule never fired) and refused by
// PostgreSQL and MariaDB when the app started. Refused here, the same on every engine.
const MAX_SPEC_LENGTH = 400
const MAX_EVERY_MS = 8_640_000_000_000_000

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * Defines a schedule: a handler run once per tick across every process of the app, with no
 * leader. Each process that sees a tick due tries one conditional update of the schedule's row
 * and enqueues the tick's job in the same transaction: one wins, the others change nothing. A
 * restart does not fire a tick twice; ticks missed while no process ran fire once, on start
 * (ticks late by under 5 seconds all fire, in order).
 *
 * @example
 * ```ts
 * import { defineModule, schedule } from '@mortar/core'
 *
 * export const reportsModule = defineModule({
 *   name: 'reports',
 *   register() {},
 *   schedules: [
 *     schedule('reports.nightly', { cron: '0 3 * * *', timeZone: 'Europe/Paris' }, async (tick, job) => {
 *       job.logger.info({ at: tick.at }, 'building the nightly report')
 *     }),
 *     schedule('reports.refresh', { every: '5m', timeout: 60_000 }, async () => {}),
 *   ],
 * })
 * ```
 */
export function schedule(
  name: string,
  timing: ScheduleTiming,
  handler: ScheduleHandler,
): ScheduleDefinition {
  if (typeof handler !== 'function') {
    throw new TypeError(`Schedule '${name}' needs a handler(tick, job) function.`)
  }
  let spec: string
  let next: (afterMs: number) => number
  if (timing.cron !== undefined) {
    const timeZone = timing.timeZone ?? 'UTC'
    let cron: Cron
    try {
      cron = new Cron(timing.cron, timeZone)
    } catch (error) {
      throw new TypeError(`Schedule '${name}': ${thrownText(error)}`)
    }
    spec = `cron ${timing.cron.trim()} ${timeZone}`
    next = (afterMs) => cron.next(afterMs)
  } else {
    const every = everyMs(name, timing.every)
    spec = `every ${every}`
    next = (afterMs) => (Math.floor(afterMs / every) + 1) * every
  }
  if (spec.length > MAX_SPEC_LENGTH) {
    throw new TypeError(
      `Schedule '${name}': its timing is ${spec.length} characters as stored ('${spec.slice(0, 40)}…'); at most ${MAX_SPEC_LENGTH}.`,
    )
  }
  const { attempts, backoff, timeout } = timing
  const job = defineJob({
    name,
    schema: tickSchema,
    ...(attempts === undefined ? {} : { attempts }),
    ...(backoff === undefined ? {} : { backoff }),
    ...(timeout === undefined ? {} : { timeout }),
    handler: ({ at }, context) => handler({ name, at: new Date(at) }, context),
  })
  return Object.freeze({ name, spec, job, next })
}

function everyMs(name: string, every: number | string | undefined): number {
  if (typeof every === 'number') {
    if (Number.isInteger(every) && every > 0 && every <= MAX_EVERY_MS) return every
  } else if (typeof every === 'string') {
    const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(every.trim())
    if (match !== null) {
      const ms = Number(match[1]) * (UNITS[match[2] as string] as number)
      if (ms > 0 && ms <= MAX_EVERY_MS) return ms
    }
  }
  throw new TypeError(
    `Schedule '${name}' needs { every } as a whole number of ms from 1 to ${MAX_EVERY_MS} or a duration such as '30s', '5m', '2h', '1d' (got ${describeOption(every)}), or { cron }.`,
  )
}
