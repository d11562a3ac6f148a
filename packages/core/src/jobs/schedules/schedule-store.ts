/** A schedule's stored state: when its next tick is due, and under which timing. */
export interface ScheduleRow {
  readonly name: string
  readonly spec: string
  readonly nextAtMs: number
}

/** The schedules due, and the instant they were judged due at. */
export interface DueSchedules {
  readonly rows: readonly ScheduleRow[]
  readonly nowMs: number
}

/**
 * Where schedules keep their next tick, shared by every process of the app. `claim` is the one
 * conditional update that lets exactly one process fire a tick: it moves `nextAtMs` from the
 * value the caller saw to the next one and runs `enqueue` in the same transaction, or changes
 * nothing when another process moved it first.
 */
export interface ScheduleStore {
  /** Adds rows for schedules that have none; resets a row whose timing changed. */
  register(rows: readonly ScheduleRow[]): Promise<void>
  /**
   * The rows of these schedules due now, and that now. `nowMs` is the caller's clock: a store
   * shared by processes judges by its own (its server's), or a process whose clock runs ahead
   * would fire ticks early and skip those between as missed.
   */
  due(names: readonly string[], nowMs: number): Promise<DueSchedules>
  /** Moves a due row on and enqueues its tick atomically; false when another process won. */
  claim(row: ScheduleRow, nextAtMs: number, enqueue: () => Promise<unknown>): Promise<boolean>
}

/** A {@link ScheduleStore} in memory, for the inline engine: one process, nothing persisted. */
export class MemoryScheduleStore implements ScheduleStore {
  readonly #rows = new Map<string, ScheduleRow>()

  async register(rows: readonly ScheduleRow[]): Promise<void> {
    for (const row of rows) {
      const current = this.#rows.get(row.name)
      if (current === undefined || current.spec !== row.spec) this.#rows.set(row.name, row)
    }
  }

  // One process: its callers' clock is the only one.
  async due(names: readonly string[], nowMs: number): Promise<DueSchedules> {
    const rows = names.flatMap((name) => {
      const row = this.#rows.get(name)
      return row !== undefined && row.nextAtMs <= nowMs ? [row] : []
    })
    return { rows, nowMs }
  }

  async claim(
    row: ScheduleRow,
    nextAtMs: number,
    enqueue: () => Promise<unknown>,
  ): Promise<boolean> {
    const current = this.#rows.get(row.name)
    if (current?.nextAtMs !== row.nextAtMs) return false
    this.#rows.set(row.name, { ...row, nextAtMs })
    try {
      await enqueue()
    } catch (error) {
      this.#rows.set(row.name, current)
      throw error
    }
    return true
  }
}
