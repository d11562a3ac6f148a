import type { Logger } from '../../logger/logger.js'
import type { Database } from '../../persistence/database/database.js'
import { findFrame, transactionStorage } from '../../persistence/transactions/transaction-store.js'
import { JobError } from '../job-errors.js'
import type { JsonValue } from '../job-context.js'
import { MemoryScheduleStore } from '../schedules/schedule-store.js'
import { errorLine, jobState, keptErrors, parseErrors, shownPayload } from '../job-state.js'
import type {
  AttemptError,
  ClaimedJob,
  ClaimRequest,
  FailOutcome,
  JobCount,
  JobInfo,
  ListRequest,
  NewJob,
  QueueAdapter,
} from '../queue-adapter.js'

/** Keys an open transaction's enqueue holds until it ends. */
interface Reservation {
  /** The transaction's outermost frame. */
  readonly transaction: object
  /** Resolves once it committed (its jobs stored) or rolled back. */
  readonly ended: Promise<void>
}

interface Row {
  readonly id: string
  readonly name: string
  readonly payload: string
  readonly key: string | null
  readonly createdAtMs: number
  runAtMs: number
  attempts: number
  readonly maxAttempts: number
  worker: string | null
  progress: string | null
  errors: string
  deadAtMs: number | null
}

/**
 * The `'inline'` engine: jobs in this process's memory, run by its own worker. For tests and
 * for apps without a database; nothing survives a restart. It keeps every rule of a queue
 * (leases, attempts, keys, and enqueue inside a transaction taking effect only at commit), so
 * code tested on it behaves the same on the SQL queue.
 *
 * @example
 * ```ts
 * import { createTestApp } from '@mortar/core/testing'
 *
 * const app = createTestApp({ modules: [shopModule], jobs: { engine: 'inline', workers: false } })
 * await app.start()
 * await app.resolve(JOBS).enqueue(sendReceipt, { orderId: 'o-1' })
 * await app.resolve(JOBS).drain() // runs it here and now
 * ```
 */
export class InlineQueue implements QueueAdapter {
  readonly engine = 'inline'
  readonly schedules = new MemoryScheduleStore()
  readonly #rows = new Map<string, Row>()
  readonly #liveKeys = new Map<string, string>()
  // Keys of jobs enqueued in transactions still open, and which transaction each waits on.
  readonly #reserved = new Map<string, Reservation>()
  readonly #waits = new Map<object, object>()
  readonly #database: Database | undefined
  readonly #logger: Pick<Logger, 'warn'> | undefined
  #nextId = 1

  /**
   * `database`: the app's, whose transactions an enqueue belongs to (without one, any open
   * transaction); `logger`: where the jobs left unrun when the queue closes are reported.
   */
  constructor(
    options: { readonly database?: Database; readonly logger?: Pick<Logger, 'warn'> } = {},
  ) {
    this.#database = options.database
    this.#logger = options.logger
  }

  /**
   * The queue's jobs live only in this process: those not yet run (due, waiting for their time
   * or a retry, or running past the stop's grace) go with it. Reported, never dropped silently.
   */
  async close(): Promise<void> {
    const lost = new Map<string, number>()
    for (const row of this.#rows.values()) {
      if (row.deadAtMs === null) lost.set(row.name, (lost.get(row.name) ?? 0) + 1)
    }
    if (lost.size === 0) return
    const count = [...lost.values()].reduce((sum, n) => sum + n, 0)
    this.#logger?.warn(
      { lostJobs: Object.fromEntries(lost) },
      `The 'inline' jobs engine stopped with ${count} job(s) not yet run; it keeps jobs in this process's memory, so they are lost. Use the 'database' engine for jobs that must outlive the process, or drain() before stopping.`,
    )
  }

  /**
   * A job with a key is dropped (`undefined`) while a live job holds the key, as the SQL queue
   * drops it. In a transaction its id is final: the key is reserved at once, so a later enqueue
   * of it (in this transaction or not) is the duplicate, and the job is stored at commit; a
   * rollback gives the key back. An enqueue whose key another open transaction reserved waits
   * for that one to end, as an INSERT waits on a unique index: dropped if it committed, stored
   * if it rolled back.
   */
  async enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    const frame =
      this.#database === undefined ? transactionStorage.getStore() : findFrame(this.#database)
    const transaction = frame === undefined ? undefined : (frame.root ?? frame)
    await this.#awaitKeys(jobs, transaction)
    // From here on, synchronous: no other enqueue can take a key in between.
    const rows: Row[] = []
    const ids = jobs.map((job) => {
      if (job.key !== undefined && (this.#liveKeys.has(job.key) || this.#reserved.has(job.key)))
        return undefined
      const row: Row = {
        id: String(this.#nextId++),
        name: job.name,
        payload: job.payload,
        key: job.key ?? null,
        createdAtMs: job.createdAtMs,
        runAtMs: job.runAtMs,
        attempts: 0,
        maxAttempts: job.maxAttempts,
        worker: null,
        progress: null,
        errors: '',
        deadAtMs: null,
      }
      if (frame === undefined) this.#insert(row)
      else rows.push(row)
      return row.id
    })
    if (frame === undefined || transaction === undefined) return ids
    // In a transaction the jobs exist only once it commits: rolled back, they never did.
    const keys = rows.flatMap((row) => (row.key === null ? [] : [row.key]))
    let ended!: () => void
    const reservation: Reservation = {
      transaction,
      ended: new Promise<void>((resolve) => {
        ended = resolve
      }),
    }
    for (const key of keys) this.#reserved.set(key, reservation)
    const release = (): void => {
      for (const key of keys) {
        if (this.#reserved.get(key) === reservation) this.#reserved.delete(key)
      }
      ended()
    }
    frame.callbacks.push(() => {
      for (const row of rows) this.#insert(row)
      release()
    })
    frame.rollbacks.push(release)
    return ids
  }

  /**
   * Waits until no key of `jobs` is reserved by another open transaction than `transaction`.
   * Refuses to wait on a transaction that waits, through others, for this one: neither could
   * ever end.
   */
  async #awaitKeys(jobs: readonly NewJob[], transaction: object | undefined): Promise<void> {
    for (;;) {
      let holder: Reservation | undefined
      for (const job of jobs) {
        const reservation = job.key === undefined ? undefined : this.#reserved.get(job.key)
        if (reservation !== undefined && reservation.transaction !== transaction) {
          holder = reservation
          break
        }
      }
      if (holder === undefined) return
      if (transaction === undefined) {
        await holder.ended
        continue
      }
      for (let waited: object | undefined = holder.transaction; waited !== undefined; ) {
        if (waited === transaction) {
          throw new JobError(
            'E_JOBS_DEADLOCK',
            "Two transactions wait for each other's job keys (the 'inline' engine reserves a key until its transaction ends): this enqueue gives up so the other can go on. Let its transaction roll back and run it again.",
          )
        }
        waited = this.#waits.get(waited)
      }
      this.#waits.set(transaction, holder.transaction)
      try {
        await holder.ended
      } finally {
        this.#waits.delete(transaction)
      }
    }
  }

  #insert(row: Row): void {
    this.#rows.set(row.id, row)
    if (row.key !== null) this.#liveKeys.set(row.key, row.id)
  }

  async claim(request: ClaimRequest): Promise<readonly ClaimedJob[]> {
    const names = new Set(request.names)
    const due = [...this.#rows.values()]
      .filter(
        (row) =>
          row.deadAtMs === null &&
          row.runAtMs <= request.nowMs &&
          names.has(row.name) &&
          row.worker !== request.worker,
      )
      .sort((a, b) => a.runAtMs - b.runAtMs || Number(a.id) - Number(b.id))
      .slice(0, request.limit)
    return due.map((row) => {
      row.worker = request.worker
      row.runAtMs = request.nowMs + request.leaseMs
      row.attempts += 1
      row.progress = null
      return {
        id: row.id,
        name: row.name,
        payload: row.payload,
        attempt: row.attempts,
        maxAttempts: row.maxAttempts,
      }
    })
  }

  // One process: its callers' clock is the only one, so the queue keeps time by it.
  async renew(
    worker: string,
    ids: readonly string[],
    leaseMs: number,
    nowMs: number,
  ): Promise<void> {
    for (const row of this.#held(worker, ids)) row.runAtMs = nowMs + leaseMs
  }

  async complete(worker: string, ids: readonly string[]): Promise<readonly string[]> {
    return this.#held(worker, ids).map((row) => {
      this.#delete(row)
      return row.id
    })
  }

  async fail(
    worker: string,
    id: string,
    error: AttemptError,
    outcome: FailOutcome,
    nowMs: number,
  ): Promise<boolean> {
    const [row] = this.#held(worker, [id])
    if (row === undefined) return false
    row.worker = null
    row.errors = keptErrors(row.errors + errorLine(error))
    if ('dead' in outcome) {
      row.deadAtMs = nowMs
      if (row.key !== null && this.#liveKeys.get(row.key) === row.id) this.#liveKeys.delete(row.key)
    } else {
      row.runAtMs = nowMs + outcome.retryInMs
    }
    return true
  }

  async release(worker: string, ids: readonly string[], nowMs: number): Promise<void> {
    for (const row of this.#held(worker, ids)) {
      row.worker = null
      row.runAtMs = nowMs
      row.attempts -= 1
      row.progress = null
    }
  }

  async progress(worker: string, id: string, progress: JsonValue): Promise<boolean> {
    const [row] = this.#held(worker, [id])
    if (row === undefined) return false
    row.progress = JSON.stringify(progress)
    return true
  }

  async counts(nowMs: number): Promise<readonly JobCount[]> {
    const counts = new Map<string, JobCount>()
    for (const row of this.#rows.values()) {
      const state = jobState(row, nowMs)
      const id = `${row.name}\n${state}`
      const count = counts.get(id)?.count ?? 0
      counts.set(id, { name: row.name, state, count: count + 1 })
    }
    return [...counts.values()]
  }

  async list(request: ListRequest): Promise<readonly JobInfo[]> {
    return [...this.#rows.values()]
      .filter(
        (row) =>
          (request.state === undefined || jobState(row, request.nowMs) === request.state) &&
          (request.name === undefined || row.name === request.name),
      )
      .slice(0, request.limit)
      .map((row) => info(row, request.nowMs))
  }

  async get(id: string, nowMs: number): Promise<JobInfo | undefined> {
    const row = this.#rows.get(id)
    return row === undefined ? undefined : info(row, nowMs)
  }

  async retry(ids: readonly string[] | 'all', nowMs: number): Promise<number> {
    const rows = ids === 'all' ? [...this.#rows.values()] : ids.map((id) => this.#rows.get(id))
    let retried = 0
    for (const row of rows) {
      if (row === undefined || row.deadAtMs === null) continue
      // A dead job does not hold its key; while another live job does, this one stays dead.
      if (row.key !== null && (this.#liveKeys.has(row.key) || this.#reserved.has(row.key))) continue
      row.deadAtMs = null
      row.attempts = 0
      row.runAtMs = nowMs
      if (row.key !== null) this.#liveKeys.set(row.key, row.id)
      retried += 1
    }
    return retried
  }

  async purge(
    states: readonly ('dead' | 'pending' | 'scheduled')[],
    nowMs: number,
  ): Promise<number> {
    const wanted = new Set<string>(states)
    let purged = 0
    for (const row of [...this.#rows.values()]) {
      if (!wanted.has(jobState(row, nowMs))) continue
      this.#delete(row)
      purged += 1
    }
    return purged
  }

  #held(worker: string, ids: readonly string[]): Row[] {
    const rows: Row[] = []
    for (const id of ids) {
      const row = this.#rows.get(id)
      if (row !== undefined && row.worker === worker && row.deadAtMs === null) rows.push(row)
    }
    return rows
  }

  #delete(row: Row): void {
    this.#rows.delete(row.id)
    if (row.key !== null && this.#liveKeys.get(row.key) === row.id) this.#liveKeys.delete(row.key)
  }
}

function info(row: Row, nowMs: number): JobInfo {
  const state = jobState(row, nowMs)
  return {
    id: row.id,
    name: row.name,
    state,
    payload: shownPayload(row.payload),
    key: row.key ?? undefined,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    createdAt: new Date(row.createdAtMs),
    runAt: new Date(row.runAtMs),
    deadAt: row.deadAtMs === null ? undefined : new Date(row.deadAtMs),
    worker: row.worker ?? undefined,
    progress: row.progress === null ? undefined : (JSON.parse(row.progress) as JsonValue),
    errors: parseErrors(row.errors),
  }
}
