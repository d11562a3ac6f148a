import { transactionStorage } from '../../persistence/transactions/transaction-store.js'
import { afterCommit } from '../../persistence/transactions/transaction.js'
import type { Logger } from '../../logger/logger.js'
import type { JsonValue } from '../job-context.js'
import { MemoryScheduleStore } from '../schedules/schedule-store.js'
import { errorLine, jobState, keptErrors, parseErrors } from '../job-state.js'
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
  readonly #logger: Pick<Logger, 'warn'> | undefined
  #nextId = 1

  /** `logger`: where the jobs left unrun when the queue closes are reported. */
  constructor(options: { readonly logger?: Pick<Logger, 'warn'> } = {}) {
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

  async enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    const reserved = new Set<string>()
    const rows: Row[] = []
    const ids = jobs.map((job) => {
      if (job.key !== undefined) {
        if (this.#liveKeys.has(job.key) || reserved.has(job.key)) return undefined
        reserved.add(job.key)
      }
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
      rows.push(row)
      return row.id
    })
    const insert = (): void => {
      for (const row of rows) {
        // A transaction that committed a job with the same key in the meantime wins.
        if (row.key !== null && this.#liveKeys.has(row.key)) continue
        this.#rows.set(row.id, row)
        if (row.key !== null) this.#liveKeys.set(row.key, row.id)
      }
    }
    // In a transaction the jobs exist only once it commits: rolled back, they never did.
    if (transactionStorage.getStore() === undefined) insert()
    else await afterCommit(insert)
    return ids
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
      if (row.key !== null && this.#liveKeys.has(row.key)) continue
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
    payload: JSON.parse(row.payload) as JsonValue,
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
