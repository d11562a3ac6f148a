import type { Job, JobJson, Queue, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { sql } from 'kysely'
import type { Logger } from '../../logger/logger.js'
import type { Database } from '../../persistence/database/database.js'
import type { AppRedis } from '../../redis/app-redis.js'
import type { JsonValue } from '../job-context.js'
import { JobError } from '../job-errors.js'
import { KEPT_ERRORS, shownPayload } from '../job-state.js'
import type { CompanionWrite } from '../job-queue.js'
import type {
  AttemptError,
  ClaimedJob,
  ClaimRequest,
  FailOutcome,
  JobCount,
  JobInfo,
  JobState,
  ListRequest,
  NewJob,
  QueueAdapter,
} from '../queue-adapter.js'
import type { ScheduleStore } from '../schedules/schedule-store.js'
import { SqlQueue } from '../sql/sql-queue.js'
import { deleteJobs, queueDb, queueTransaction } from '../sql/queue-db.js'
import { sqlQueueMigrations } from '../sql/sql-queue-migrations.js'
import {
  type JobData,
  jobId,
  newRelayToken,
  OutboxRelay,
  parseJobId,
  type RelayJob,
} from './outbox-relay.js'

/** Options of {@link BullmqQueue}. */
export interface BullmqQueueOptions {
  /** The app's database: enqueues are outbox rows in `mortar_job`, in the caller's transaction. */
  readonly database: Database
  /** The app's Redis; BullMQ's keys go under its prefix (`<prefix>jobs:<name>:…`). */
  readonly redis: AppRedis
  readonly logger?: Logger
  /** How often rows left in the outbox (a crash, Redis down) are relayed again (default 2,000 ms). */
  readonly sweepMs?: number
}

type BullJob = Job<JobData, null, string>
type Bull = typeof import('bullmq')

const DEFAULT_SWEEP_MS = 2_000
const MAX = 1_000_000
/** Jobs read or removed in one step by retry and purge. */
const PAGE = 1_000

// Only the worker holding a job may touch it: BullMQ keeps the holder's token in `<job>:lock`.
const PROGRESS = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('hset', KEYS[2], 'progress', ARGV[2])
return 1
`
// Marks the relayed jobs that BullMQ holds now (KEYS: the mark set, then per job its hash and
// the deduplication key it may have lost to, ARGV: the ids): one whose add failed is not marked.
const MARK = `
local marked = {}
for i = 2, #KEYS, 2 do
  if redis.call('exists', KEYS[i]) == 1 or redis.call('exists', KEYS[i + 1]) == 1 then
    marked[#marked + 1] = ARGV[i / 2]
  end
end
if #marked > 0 then redis.call('sadd', KEYS[1], unpack(marked)) end
return #marked
`
// A job given back on shutdown: its next claim must not count this attempt, and BullMQ counts
// every move to active in the job's \`ats\` field.
const UNCOUNT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('hincrby', KEYS[2], 'ats', -1)
return 1
`

/**
 * The `'bullmq'` engine: jobs run from BullMQ queues on the app's Redis (one queue per job
 * name), and enqueue stays transactional: `enqueue` writes an outbox row in `mortar_job` in the
 * caller's transaction, and after the commit the relay moves rows to BullMQ with `addBulk`, each
 * under its row id and a random token of the row as BullMQ's `jobId`, so relaying a row twice never makes a second job. A
 * sweep relays rows that a crash or an unreachable Redis left behind. Keys are BullMQ
 * deduplication ids; leases are BullMQ's locks, renewed by Mortar's heartbeat; a job whose
 * worker died goes back to waiting through BullMQ's stalled-job check. `bullmq` is an optional
 * peer, loaded on first use.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 *
 * const app = createApp({
 *   database: process.env.DATABASE_URL,
 *   redis: process.env.REDIS_URL,
 *   modules,
 *   jobs: { engine: 'bullmq' },
 * })
 * ```
 */
export class BullmqQueue implements QueueAdapter {
  readonly engine = 'bullmq'
  readonly migrations = sqlQueueMigrations
  readonly schedules: ScheduleStore
  readonly #outbox: SqlQueue
  readonly #database: Database
  readonly #relay: OutboxRelay
  readonly #redis: AppRedis
  readonly #logger: Logger | undefined
  readonly #prefix: string
  readonly #queues = new Map<string, Queue<JobData, null, string>>()
  readonly #workers = new Map<string, Promise<Worker<JobData, null, string>>>()
  /** The workers of {@link BullmqQueue.#workers} once made. */
  readonly #made = new Map<string, Worker<JobData, null, string>>()
  readonly #held = new Map<string, BullJob>()
  /**
   * Jobs BullMQ moved to active in the call that completed another (`fetchNext`, as BullMQ's own
   * worker does: one script per job instead of a claim and a completion), by the lease they are
   * locked in (the completed job's), until the next claim hands them out in it.
   */
  readonly #fetched = new Map<string, BullJob[]>()
  /** The last claim took all it asked for: completions fetch the next job. */
  #busy = false
  #bull: Promise<Bull> | undefined
  #workerConnection: Promise<Redis> | undefined
  /** Set by {@link BullmqQueue.close}: no worker or connection is made after it. */
  #closed = false

  constructor(options: BullmqQueueOptions) {
    this.#outbox = new SqlQueue({ database: options.database })
    this.#database = options.database
    this.schedules = this.#outbox.schedules
    this.#redis = options.redis
    this.#logger = options.logger
    this.#prefix = `${options.redis.prefix}jobs`
    this.#relay = new OutboxRelay({
      database: options.database,
      logger: options.logger,
      sweepMs: options.sweepMs ?? DEFAULT_SWEEP_MS,
      target: {
        load: () => this.#load(),
        add: (jobs) => this.#add(jobs),
        settle: async (ids) => {
          await this.#redis.client.srem(this.#relayedKey, ...ids)
        },
        marks: async (cursor) => {
          const [next, ids] = await this.#redis.client.sscan(
            this.#relayedKey,
            cursor,
            'COUNT',
            PAGE,
          )
          return { cursor: next, ids }
        },
      },
    })
  }

  /** Ids of jobs added to BullMQ whose outbox rows may still exist (see {@link RelayTarget.add}). */
  get #relayedKey(): string {
    return `${this.#prefix}:relayed`
  }

  async #add(jobs: readonly RelayJob[]): Promise<void> {
    const client = this.#redis.client
    const marked = await client.smismember(this.#relayedKey, ...jobs.map((job) => job.opts.jobId))
    const fresh = jobs.filter((_, index) => marked[index] === 0)
    if (fresh.length === 0) return
    const { Job } = this.#loaded()
    // One MULTI: the adds and their marks land together or not at all (BullMQ's addBulk is a
    // pipeline, each add on its own).
    const multi = (await this.#queue((fresh[0] as RelayJob).name).getBackend().client).multi()
    multi.runCommand('sadd', [`${this.#prefix}:names`, ...new Set(fresh.map((job) => job.name))])
    for (const job of fresh) {
      void new Job(this.#queue(job.name), job.name, job.data, job.opts, job.opts.jobId)
        .addJob(multi)
        .catch(() => undefined) // its outcome is read from exec's replies
    }
    const keys = fresh.flatMap((job) => {
      const queue = this.#queueKey(job.name)
      const key = job.data.k
      return [
        `${queue}:${job.opts.jobId}`,
        key === null ? `${queue}:${job.opts.jobId}` : `${queue}:de:${key}`,
      ]
    })
    const ids = fresh.map((job) => job.opts.jobId)
    multi.runCommand('eval', [MARK, 1 + keys.length, this.#relayedKey, ...keys, ...ids])
    const replies = (await multi.exec()) ?? []
    for (const [error, reply] of replies) {
      if (error) throw error
      // BullMQ's code for an add it refused: the rows stay for the next relay.
      if (typeof reply === 'number' && reply < 0) throw new Error(`BullMQ refused a job (${reply})`)
    }
  }

  /** Writes outbox rows in the caller's transaction; BullMQ sees them after the relay. */
  enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    return this.#enqueue(jobs, undefined)
  }

  /** The outbox is an SQL queue: the caller's write goes with its rows as it does there. */
  enqueueAlongside(
    jobs: readonly NewJob[],
    write: CompanionWrite,
  ): Promise<readonly (string | undefined)[]> {
    return this.#enqueue(jobs, write)
  }

  async #enqueue(
    jobs: readonly NewJob[],
    write: CompanionWrite | undefined,
  ): Promise<readonly (string | undefined)[]> {
    const rows = jobs.map((job) => ({ ...job, token: newRelayToken() }))
    this.#relay.startSweep()
    const run = async (): Promise<readonly (string | undefined)[]> => {
      const written =
        write === undefined
          ? await this.#outbox.enqueue(rows)
          : await this.#outbox.enqueueAlongside(rows, write)
      // A key held by a live job in BullMQ: the row is taken back, as the SQL queue drops it.
      // Asked once the row is written, so a relay that moved the key's live row to BullMQ
      // meanwhile has committed (the insert waited for its delete) and BullMQ shows it; asked
      // first, the relay could slip in between, and the job got an id and never ran.
      const live = await this.#liveKeys(rows.filter((_, index) => written[index] !== undefined))
      const dropped = written.flatMap((id, index) =>
        id !== undefined && live.has((rows[index] as NewJob).key as string) ? [id] : [],
      )
      if (dropped.length > 0) {
        await deleteJobs(this.#database, dropped).execute(this.#database.kysely)
      }
      return written.map((id, index) => {
        const row = rows[index] as NewJob & { token: string }
        return id === undefined || live.has(row.key as string) ? undefined : jobId(id, row.token)
      })
    }
    // Written and taken back in one transaction: committed alone, the relay could move the row.
    return rows.some((row) => row.key !== undefined) && !this.#database.inTransaction
      ? this.#database.transaction(run)
      : run()
  }

  /** After a commit: relays the outbox now. */
  async announce(): Promise<void> {
    await this.#relay.relay()
  }

  /** Worker processes sweep the outbox on a timer; BullMQ's queues are polled by the worker. */
  async subscribe(): Promise<() => Promise<void>> {
    this.#relay.startSweep()
    return async () => this.#relay.stopSweep()
  }

  async claim(request: ClaimRequest): Promise<readonly ClaimedJob[]> {
    // Given up on (a connection that stopped answering): the workers and their connection are
    // dropped, which fails what waits on them, and the next claim opens new ones.
    const drop = () => this.#dropWorkers()
    request.signal?.addEventListener('abort', drop, { once: true })
    try {
      return await this.#claim(request)
    } finally {
      request.signal?.removeEventListener('abort', drop)
    }
  }

  async #claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    const relayedBefore = this.#relay.relayed
    const claimed = this.#takeFetched(request)
    if (claimed.length < request.limit) {
      claimed.push(...(await this.#take({ ...request, limit: request.limit - claimed.length })))
    }
    // Short of jobs: relay rows whose commit this process did not see (a schedule's tick in
    // another transaction, an enqueue whose relay failed), then take again if a relay of this
    // process added jobs since the claim began (one may have finished while the take ran).
    if (claimed.length < request.limit) {
      await this.#relay.relay()
      if (this.#relay.relayed !== relayedBefore) {
        claimed.push(...(await this.#take({ ...request, limit: request.limit - claimed.length })))
      }
    }
    this.#busy = claimed.length === request.limit
    return claimed
  }

  /** The fetched jobs this claim's names take, each in the lease it was fetched in. */
  #takeFetched(request: ClaimRequest): ClaimedJob[] {
    if (this.#fetched.size === 0) return []
    const names = new Set(request.names)
    const taken: ClaimedJob[] = []
    for (const [lease, fetched] of this.#fetched) {
      const kept: BullJob[] = []
      for (const job of fetched) {
        if (taken.length < request.limit && names.has(job.name)) taken.push(this.#hold(job, lease))
        else kept.push(job)
      }
      if (kept.length === 0) this.#fetched.delete(lease)
      else this.#fetched.set(lease, kept)
    }
    return taken
  }

  #hold(job: BullJob, lease?: string): ClaimedJob {
    const id = job.id as string
    this.#held.set(id, job)
    return {
      id,
      name: job.name,
      payload: job.data.p,
      attempt: job.attemptsStarted,
      maxAttempts: job.data.m,
      ...(lease === undefined ? {} : { lease }),
    }
  }

  async #take(request: ClaimRequest): Promise<ClaimedJob[]> {
    // Locks expire in Redis (PX), on Redis's clock: no worker's clock judges a lease.
    const leaseMs = Math.max(1_000, request.leaseMs)
    const claimed: ClaimedJob[] = []
    for (const name of request.names) {
      const worker = await this.#worker(name, leaseMs)
      while (claimed.length < request.limit) {
        const wanted = request.limit - claimed.length
        const jobs = await Promise.all(
          Array.from({ length: wanted }, () => worker.getNextJob(request.worker, { block: false })),
        )
        const got = jobs.filter((job): job is BullJob => job !== undefined && job !== null)
        for (const job of got) claimed.push(this.#hold(job))
        if (got.length < wanted) break
      }
      if (claimed.length >= request.limit) break
    }
    return claimed
  }

  async renew(worker: string, ids: readonly string[], leaseMs: number): Promise<void> {
    const duration = Math.max(1, leaseMs)
    const extend = (job: BullJob | undefined, lease: string) =>
      job?.extendLock(lease, duration).catch(() => 0)
    // Fetched jobs are in the lease of the job whose completion fetched them, which the worker
    // may no longer hold anything else in, so no heartbeat would name it: each renewal takes them.
    await Promise.all([
      ...ids.map((id) => extend(this.#held.get(id), worker)),
      ...[...this.#fetched].flatMap(([lease, jobs]) => jobs.map((job) => extend(job, lease))),
    ])
  }

  async complete(worker: string, ids: readonly string[]): Promise<readonly string[]> {
    const fetchNext = this.#busy
    const done = await Promise.all(
      ids.map(async (id) => {
        const job = this.#held.get(id)
        if (job === undefined) return undefined
        let next: unknown
        try {
          next = await job.moveToCompleted(null, worker, fetchNext)
        } catch {
          return undefined // another worker holds it now
        }
        this.#held.delete(id)
        // [job hash, id, …] when the queue had a job waiting for this worker.
        if (Array.isArray(next) && next[0]) this.#keepFetched(worker, job.name, next)
        return id
      }),
    )
    return done.filter((id): id is string => id !== undefined)
  }

  /**
   * The writes go to the app's database first, for the jobs this worker holds, and the jobs
   * complete in Redis after: a crash between runs them again, never finishes them unwritten.
   * One write on PostgreSQL runs as its owner runs it alone (notify's delivery results: a
   * prepared statement, whose planning was a quarter of its cost); the pool is the same there.
   * Elsewhere on the queue's connections (MariaDB's read committed), and several writes in one
   * transaction.
   */
  async completeAlongside(
    worker: string,
    ids: readonly string[],
    writes: (finished: readonly string[]) => readonly CompanionWrite[],
  ): Promise<readonly string[]> {
    const held = ids.filter((id) => this.#held.has(id))
    const list = held.length === 0 ? [] : writes(held)
    const [only] = list
    if (list.length === 1 && only !== undefined) {
      if (this.#database.engine === 'postgres') await only.execute()
      else await sql`${only}`.execute(queueDb(this.#database))
    } else if (list.length > 1) {
      await queueTransaction(this.#database, async (db) => {
        for (const write of list) await sql`${write}`.execute(db)
      })
    }
    return this.complete(worker, ids)
  }

  #keepFetched(worker: string, name: string, [data, id]: unknown[]): void {
    // The BullMQ worker that took the completed job: made before, so no promise to wait for.
    const bullWorker = this.#made.get(name)
    if (bullWorker === undefined) return
    const job = this.#loaded().Job.fromJSON(bullWorker, data as JobJson, id as string) as BullJob
    const fetched = this.#fetched.get(worker)
    if (fetched === undefined) this.#fetched.set(worker, [job])
    else fetched.push(job)
  }

  async fail(
    worker: string,
    id: string,
    error: AttemptError,
    outcome: FailOutcome,
    _nowMs?: number,
  ): Promise<boolean> {
    const job = this.#held.get(id)
    if (job === undefined || !(await this.#holds(job, worker))) return false
    try {
      // Its errors kept as the SQL queue keeps them: the last attempts', each one cut.
      await this.#queue(job.name).addJobLog(id, JSON.stringify(error), KEPT_ERRORS)
      // BullMQ stamps and promotes delayed jobs by its processes' own clocks (Date.now()), never
      // by the app's clock a worker passes, which may be a test's or skewed.
      if ('retryInMs' in outcome) await job.moveToDelayed(Date.now() + outcome.retryInMs, worker)
      else {
        const failure = new Error(error.message)
        failure.name = error.name
        // Attempts are Mortar's: BullMQ's own count is 1, so this buries the job.
        await job.moveToFailed(failure, worker, false)
      }
    } catch {
      return false
    }
    this.#held.delete(id)
    return true
  }

  async release(worker: string, ids: readonly string[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        const job = this.#held.get(id)
        if (job !== undefined && (await this.#giveBack(worker, job))) this.#held.delete(id)
      }),
    )
  }

  /** Puts a job the worker holds back to waiting, its attempt uncounted; false if it lost it. */
  async #giveBack(worker: string, job: BullJob): Promise<boolean> {
    const queue = job.queueQualifiedName
    const uncounted = await this.#redis.client.eval(
      UNCOUNT,
      2,
      `${queue}:${job.id}:lock`,
      `${queue}:${job.id}`,
      worker,
    )
    if (Number(uncounted) !== 1) return false
    await job.moveToWait(worker).catch(() => undefined)
    return true
  }

  async progress(worker: string, id: string, progress: JsonValue): Promise<boolean> {
    const job = this.#held.get(id)
    if (job === undefined) return false
    const queue = job.queueQualifiedName
    const stored = await this.#redis.client.eval(
      PROGRESS,
      2,
      `${queue}:${id}:lock`,
      `${queue}:${id}`,
      worker,
      JSON.stringify(progress),
    )
    return Number(stored) === 1
  }

  async counts(_nowMs: number): Promise<readonly JobCount[]> {
    await this.#load()
    const counts: JobCount[] = []
    for (const name of await this.#names()) {
      const c = await this.#queue(name).getJobCounts(
        'wait',
        'prioritized',
        'delayed',
        'active',
        'failed',
      )
      const by: Record<JobState, number> = {
        pending: (c.wait ?? 0) + (c.prioritized ?? 0),
        scheduled: c.delayed ?? 0,
        running: c.active ?? 0,
        stalled: 0,
        dead: c.failed ?? 0,
      }
      for (const [state, count] of Object.entries(by)) {
        if (count > 0) counts.push({ name, state: state as JobState, count })
      }
    }
    for (const row of await this.#outbox.counts()) {
      const same = counts.findIndex((c) => c.name === row.name && c.state === row.state)
      if (same === -1) counts.push(row)
      else counts[same] = { ...row, count: row.count + (counts[same] as JobCount).count }
    }
    return counts
  }

  async list(request: ListRequest): Promise<readonly JobInfo[]> {
    await this.#load()
    const types = request.state === undefined ? ALL_TYPES : TYPES_OF[request.state]
    const found: JobInfo[] = []
    if (
      request.state === undefined ||
      request.state === 'pending' ||
      request.state === 'scheduled'
    ) {
      found.push(...(await this.#outboxInfos(await this.#outbox.list(request))))
    }
    const names = request.name === undefined ? await this.#names() : [request.name]
    for (const name of names) {
      const jobs = await this.#queue(name).getJobs([...types], 0, request.limit - 1, true)
      for (const job of jobs) {
        if (job === undefined || job === null) continue
        const info = await this.#info(job as BullJob, request.nowMs)
        if (info !== undefined && (request.state === undefined || info.state === request.state)) {
          found.push(info)
        }
      }
    }
    return found.sort((a, b) => rowOf(a.id) - rowOf(b.id)).slice(0, request.limit)
  }

  async get(id: string, nowMs: number): Promise<JobInfo | undefined> {
    await this.#load()
    const rowId = parseJobId(id)?.rowId
    if (rowId === undefined) return undefined
    const row = await this.#outbox.get(rowId)
    // The row under that id may be another job's, if the row ids restarted.
    const [info] = row === undefined ? [] : await this.#outboxInfos([row])
    if (info?.id === id) return info
    for (const name of await this.#names()) {
      const job = (await this.#queue(name).getJob(id)) as BullJob | undefined
      if (job) return this.#info(job, nowMs)
    }
    return undefined
  }

  async retry(ids: readonly string[] | 'all'): Promise<number> {
    await this.#load()
    let retried = 0
    for (const name of await this.#names()) {
      const queue = this.#queue(name)
      if (ids !== 'all') {
        // A chunk at a time: a list of any length is never loaded, nor asked for, all at once.
        // An id of no relayed job's form names none of ours and costs no lookup.
        const ours = ids.filter((id) => parseJobId(id) !== undefined)
        for (let start = 0; start < ours.length; start += PAGE) {
          retried += await this.#retryJobs(queue, ours.slice(start, start + PAGE))
        }
        continue
      }
      // A page at a time, however many are dead. ZSCAN returns every job failed from the
      // scan's start to its end, whatever the retries remove from the set meanwhile.
      let cursor = '0'
      do {
        const [next, page] = await this.#redis.client.zscan(
          queue.keys.failed as string,
          cursor,
          'COUNT',
          PAGE,
        )
        cursor = next
        retried += await this.#retryJobs(
          queue,
          page.filter((_, index) => index % 2 === 0),
        )
      } while (cursor !== '0')
    }
    return retried
  }

  /** Retries those of the jobs `ids` that are dead in `queue`; returns how many. */
  async #retryJobs(queue: Queue<JobData, null, string>, ids: readonly string[]): Promise<number> {
    let retried = 0
    const jobs = (await Promise.all(ids.map((id) => queue.getJob(id)))) as (BullJob | undefined)[]
    for (const job of jobs) {
      if (!job || (await job.getState()) !== 'failed') continue
      const key = job.data.k
      if (key !== null && (await queue.getDeduplicationJobId(key)) !== null) continue
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
      // Back to life, it holds its key again.
      if (key !== null) {
        await this.#redis.client.set(`${job.queueQualifiedName}:de:${key}`, job.id as string, 'NX')
      }
      retried += 1
    }
    return retried
  }

  async purge(
    states: readonly ('dead' | 'pending' | 'scheduled')[],
    _nowMs: number,
  ): Promise<number> {
    await this.#load()
    let purged = 0
    for (const name of await this.#names()) {
      const queue = this.#queue(name)
      for (const state of states) {
        for (const type of TYPES_OF[state]) {
          // A page at a time: one call would remove (and list) every job of the type at once.
          let removed: number
          do {
            removed = (await queue.clean(0, PAGE, type as 'failed')).length
            purged += removed
          } while (removed === PAGE)
        }
      }
    }
    // Outbox rows are never dead: this purges the waiting ones asked for.
    return purged + (await this.#outbox.purge(states))
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#relay.close()
    const fetched = [...this.#fetched].flatMap(([worker, jobs]) =>
      jobs.map((job) => ({ worker, job })),
    )
    this.#fetched.clear()
    await Promise.all(
      fetched.map(({ worker, job }) => this.#giveBack(worker, job).catch(() => false)),
    )
    // Every worker being made is in the map already (none is made once closed); one whose
    // connection failed has nothing to close.
    const made = await Promise.allSettled(this.#workers.values())
    await Promise.all(
      made.map((worker) => (worker.status === 'fulfilled' ? worker.value.close(true) : undefined)),
    )
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()))
    this.#workers.clear()
    this.#made.clear()
    this.#queues.clear()
  }

  /** Outbox rows as the SQL queue shows them, under the ids they keep in BullMQ. */
  async #outboxInfos(rows: readonly JobInfo[]): Promise<JobInfo[]> {
    if (rows.length === 0) return []
    const { rows: tokens } = await sql<{
      id: string | number | bigint
      relay_token: string | null
    }>`select id, relay_token from mortar_job where id in (${sql.join(rows.map((row) => row.id))})`.execute(
      queueDb(this.#database),
    )
    const tokenOf = new Map(tokens.map((row) => [String(row.id), row.relay_token]))
    // A row gone meanwhile was relayed: BullMQ shows it.
    return rows.flatMap((row) => {
      const token = tokenOf.get(row.id)
      return token === undefined ? [] : [{ ...row, id: jobId(row.id, token) }]
    })
  }

  /** Keys held by a live BullMQ job. */
  async #liveKeys(jobs: readonly NewJob[]): Promise<Set<string>> {
    const live = new Set<string>()
    const keyed = jobs.filter((job) => job.key !== undefined)
    if (keyed.length === 0) return live
    try {
      const found = await Promise.all(
        keyed.map((job) =>
          this.#redis.client.exists(`${this.#queueKey(job.name)}:de:${job.key as string}`),
        ),
      )
      keyed.forEach((job, index) => {
        if (found[index] === 1) live.add(job.key as string)
      })
    } catch {
      // Redis down: the outbox still takes the job; BullMQ's deduplication decides at relay.
    }
    return live
  }

  async #holds(job: BullJob, worker: string): Promise<boolean> {
    const holder = await this.#redis.client.get(`${job.queueQualifiedName}:${job.id}:lock`)
    return holder === worker
  }

  async #info(job: BullJob, nowMs: number): Promise<JobInfo | undefined> {
    const state = await job.getState()
    const id = job.id as string
    let mapped: JobState
    let worker: string | undefined
    let runAtMs = job.timestamp + (job.delay ?? 0)
    if (state === 'active') {
      const lock = `${job.queueQualifiedName}:${id}:lock`
      const [holder, ttl] = await Promise.all([
        this.#redis.client.get(lock),
        this.#redis.client.pttl(lock),
      ])
      worker = holder ?? undefined
      mapped = holder === null ? 'stalled' : 'running'
      runAtMs = Date.now() + Math.max(0, ttl)
    } else if (state === 'failed') mapped = 'dead'
    else if (state === 'delayed') {
      mapped = 'scheduled'
      // The delayed set's score holds the time it runs (its milliseconds times 0x1000 plus a
      // counter, BullMQ's getDelayedScore since v5, checked on 6.7): a job moved there by a retry keeps its first `timestamp` while its `delay`
      // counts from the move, so their sum is early by the time the job waited before it ran.
      const score = await this.#redis.client.zscore(`${job.queueQualifiedName}:delayed`, id)
      if (score !== null) runAtMs = Math.floor(Number(score) / 0x1000)
    } else if (state === 'waiting' || state === 'prioritized' || state === 'waiting-children') {
      mapped = 'pending'
    } else return undefined
    const logs = await this.#queue(job.name).getJobLogs(id)
    const errors = logs.logs.map((line) => JSON.parse(line) as AttemptError)
    return {
      id,
      name: job.name,
      state: mapped,
      payload: shownPayload(job.data.p),
      key: job.data.k ?? undefined,
      attempts: job.attemptsStarted,
      maxAttempts: job.data.m,
      createdAt: new Date(job.data.c),
      runAt: new Date(mapped === 'pending' ? Math.min(runAtMs, nowMs) : runAtMs),
      deadAt: mapped === 'dead' && job.finishedOn ? new Date(job.finishedOn) : undefined,
      worker,
      progress:
        mapped === 'running' && job.progress !== 0 ? (job.progress as JsonValue) : undefined,
      errors,
    }
  }

  /** Names of jobs ever relayed to this Redis, under this prefix. */
  async #names(): Promise<string[]> {
    return (await this.#redis.client.smembers(`${this.#prefix}:names`)).sort()
  }

  #queueKey(name: string): string {
    return `${this.#prefix}:${encodeURIComponent(name)}`
  }

  #queue(name: string): Queue<JobData, null, string> {
    let queue = this.#queues.get(name)
    if (queue === undefined) {
      const { Queue } = this.#loaded()
      queue = new Queue<JobData, null, string>(encodeURIComponent(name), {
        connection: this.#redis.client,
        prefix: this.#prefix,
      })
      queue.on('error', (error) => this.#logger?.warn({ err: error }, 'BullMQ queue error'))
      this.#queues.set(name, queue)
    }
    return queue
  }

  /**
   * Forgets the workers and closes their connection: commands waiting on it fail at once, and
   * the jobs fetched on it go back to waiting when their locks lapse (BullMQ's stalled check).
   */
  #dropWorkers(): void {
    const connection = this.#workerConnection
    const workers = [...this.#workers.values()]
    this.#workerConnection = undefined
    this.#workers.clear()
    this.#made.clear()
    this.#fetched.clear()
    this.#busy = false
    this.#logger?.warn(
      'BullMQ workers dropped after a claim went unanswered; the next claim opens new ones',
    )
    void connection?.then((client) => client.disconnect(), noop)
    for (const worker of workers) void worker.then((made) => made.close(true), noop).catch(noop)
  }

  #worker(name: string, leaseMs: number): Promise<Worker<JobData, null, string>> {
    if (this.#closed) {
      return Promise.reject(
        new JobError('E_JOBS_NOT_RUNNING', 'The BullMQ engine was closed (app.stop() ran).'),
      )
    }
    let worker = this.#workers.get(name)
    if (worker === undefined) {
      worker = (async () => {
        const { Worker } = await this.#load()
        // Not autopipelined: on an idle machine ioredis' pipelines cost more in buffer copies and
        // garbage than the socket writes they save (0.60x raw BullMQ with them, 0.90–0.93x without).
        this.#workerConnection ??= this.#redis.open({ maxRetriesPerRequest: null })
        const connection = await this.#workerConnection.catch((error: unknown) => {
          // Redis unreachable now: the next claim tries again.
          this.#workerConnection = undefined
          this.#workers.delete(name)
          throw error
        })
        const created = new Worker<JobData, null, string>(encodeURIComponent(name), null, {
          connection,
          prefix: this.#prefix,
          autorun: false,
          lockDuration: leaseMs,
          stalledInterval: leaseMs,
          // A job whose worker died runs again after its lease, as on every engine; Mortar
          // buries one claimed past its last attempt (E_JOB_LOST).
          maxStalledCount: MAX,
        })
        created.on('error', (error) => this.#logger?.warn({ err: error }, 'BullMQ worker error'))
        void created.startStalledCheckTimer()
        this.#made.set(name, created)
        return created
      })()
      this.#workers.set(name, worker)
    }
    return worker
  }

  #load(): Promise<Bull> {
    this.#bull ??= import('bullmq').then(
      (module) => {
        this.#loadedModule = module
        return module
      },
      (error: unknown) => {
        this.#bull = undefined
        throw new JobError(
          'E_JOBS_CONFIG',
          "The jobs engine 'bullmq' needs the bullmq package: run `npm i bullmq`.",
          { cause: error },
        )
      },
    )
    return this.#bull
  }

  #loaded(): Bull {
    if (this.#loadedModule === undefined) {
      throw new JobError('E_JOBS_CONFIG', 'BullMQ is used before it was loaded.')
    }
    return this.#loadedModule
  }
  #loadedModule: Bull | undefined
}

const TYPES_OF = {
  pending: ['wait', 'prioritized'],
  scheduled: ['delayed'],
  running: ['active'],
  stalled: ['active'],
  dead: ['failed'],
} as const satisfies Record<JobState, readonly string[]>

const ALL_TYPES = ['wait', 'prioritized', 'delayed', 'active', 'failed'] as const

function noop(): void {}

function rowOf(id: string): number {
  return Number(parseJobId(id)?.rowId)
}
