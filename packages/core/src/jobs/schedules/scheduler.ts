import { AsyncResource } from 'node:async_hooks'
import type { Clock } from '../../clock/clock.js'
import type { Logger } from '../../logger/logger.js'
import type { JobQueue } from '../job-queue.js'
import type { ScheduleDefinition } from './schedule.js'
import type { ScheduleRow, ScheduleStore } from './schedule-store.js'

/** What a {@link Scheduler} is built from. */
export interface SchedulerInit {
  readonly schedules: readonly ScheduleDefinition[]
  readonly store: ScheduleStore
  readonly queue: JobQueue
  readonly clock: Clock
  readonly logger: Logger
}

// Ticks late by less than this (a busy process, a quick restart) all fire, in order; ticks
// missed for longer (nothing ran) collapse into one.
const CATCH_UP_MS = 5_000
// Between ticks a scheduler asks the store nothing: it knows when the next one is due. This
// bounds its sleep anyway, should the clock jump.
const MAX_SLEEP_MS = 60_000

/**
 * Fires the app's schedules from this process. It looks at the store when a tick is due by its
 * own reckoning (and at least once a minute), and claims each due tick with the store's
 * conditional update, so any number of processes may run one: each tick fires once.
 */
export class Scheduler {
  readonly #schedules: ReadonlyMap<string, ScheduleDefinition>
  readonly #store: ScheduleStore
  readonly #queue: JobQueue
  readonly #clock: Clock
  readonly #logger: Logger
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #active = false
  #registered: Promise<void> | undefined
  #failing = false
  readonly #loop = AsyncResource.bind(() => void this.#tick())

  constructor(init: SchedulerInit) {
    this.#schedules = new Map(init.schedules.map((definition) => [definition.name, definition]))
    this.#store = init.store
    this.#queue = init.queue
    this.#clock = init.clock
    this.#logger = init.logger
  }

  /**
   * Gives each schedule without a row its first tick after now (every process does this at
   * start, web-only ones included, so ticks count from the app's first start).
   */
  register(): Promise<void> {
    return this.#register()
  }

  /** Fires what is due, then keeps watch. */
  async start(): Promise<void> {
    if (this.#schedules.size === 0) return
    this.#active = true
    await this.runDue()
    this.#arm()
  }

  async stop(): Promise<void> {
    this.#active = false
    clearTimeout(this.#timer)
    await this.#running
  }

  /** Fires every tick due now by the clock (`drain()` calls it in tests). */
  runDue(): Promise<void> {
    this.#running ??= this.#runDue().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #runDue(): Promise<void> {
    if (this.#schedules.size === 0) return
    await this.#register()
    const nowMs = this.#clock.nowMs()
    const names = [...this.#schedules.keys()]
    // Catching up moves each schedule one tick at a time: look again until nothing is due.
    for (let pass = 0; pass < 1_000; pass++) {
      // Lateness counts from the store's now, not this process's (see ScheduleStore.due).
      const due = await this.#store.due(names, nowMs)
      if (due.rows.length === 0) return
      for (const row of due.rows) await this.#fire(row, due.nowMs)
    }
  }

  #register(): Promise<void> {
    this.#registered ??= (async () => {
      const nowMs = this.#clock.nowMs()
      await this.#store.register(
        [...this.#schedules.values()].map((definition) => ({
          name: definition.name,
          spec: definition.spec,
          nextAtMs: definition.next(nowMs),
        })),
      )
    })().catch((error: unknown) => {
      this.#registered = undefined
      throw error
    })
    return this.#registered
  }

  async #fire(row: ScheduleRow, nowMs: number): Promise<void> {
    const definition = this.#schedules.get(row.name)
    if (definition === undefined) return
    const late = nowMs - row.nextAtMs
    const nextAtMs = definition.next(late <= CATCH_UP_MS ? row.nextAtMs : nowMs)
    const won = await this.#store.claim(row, nextAtMs, () =>
      this.#queue.enqueue(definition.job, { at: new Date(row.nextAtMs).toISOString() }),
    )
    if (won) {
      this.#logger.debug(
        { schedule: row.name, at: new Date(row.nextAtMs).toISOString() },
        'Schedule tick enqueued',
      )
    }
  }

  #arm(): void {
    if (!this.#active) return
    const nowMs = this.#clock.nowMs()
    let soonest = Number.POSITIVE_INFINITY
    for (const definition of this.#schedules.values()) {
      soonest = Math.min(soonest, definition.next(nowMs))
    }
    const wait = Math.max(0, Math.min(soonest - nowMs, MAX_SLEEP_MS))
    this.#timer = setTimeout(this.#loop, wait)
    this.#timer.unref()
  }

  async #tick(): Promise<void> {
    try {
      await this.runDue()
      if (this.#failing) this.#logger.info('Schedules reach their store again')
      this.#failing = false
    } catch (error) {
      // Logged once per outage; the next look tries again.
      if (!this.#failing) this.#logger.error({ err: error }, 'Firing schedules failed; retrying')
      this.#failing = true
    }
    this.#arm()
  }
}
