import { type Kysely, sql } from 'kysely'
import * as vitest from 'vitest'
import { Database } from '../../persistence/database/index.js'
import { ModuleMigrator } from '../../persistence/migrations/index.js'
import { privateDatabaseUrl, queueConformance, testEngines } from '../../testing/index.js'
import type { NewJob } from '../queue-adapter.js'
import { SqlQueue } from './sql-queue.js'
import { sqlQueueMigrations } from './sql-queue-migrations.js'
import { privateJobsDatabase } from './private-jobs-database.case.js'

/** `count` no-op jobs named `name`, due at `nowMs`, with one attempt each. */
function dueJobs(name: string, count: number, nowMs: number): NewJob[] {
  return Array.from({ length: count }, () => ({
    name,
    payload: '{}',
    runAtMs: nowMs,
    createdAtMs: nowMs,
    maxAttempts: 1,
    key: undefined,
  }))
}

for (const engine of testEngines()) {
  const jobsDb = privateJobsDatabase(engine, { pool: 12, skip: engine.skip })

  queueConformance(
    vitest,
    `SqlQueue on ${engine.title}`,
    async () => {
      const db = jobsDb.database()
      // A fresh queue per case in the one private database: empty the table first.
      await sql`delete from mortar_job`.execute(db.root)
      return { adapter: new SqlQueue({ database: db }), transaction: (fn) => db.transaction(fn) }
    },
    { skip: engine.skip },
  )

  vitest.describe.skipIf(engine.skip !== undefined)(
    `SqlQueue statement size on ${engine.title}`,
    () => {
      // Sent, a row past what one statement carries is refused by the server (MariaDB drops the
      // connection past max_allowed_packet), the caller's transaction left to roll back.
      vitest.it(
        'refuses a job too large for one statement (MariaDB: its max_allowed_packet) with a ValidationError, storing nothing and leaving the transaction usable',
        async () => {
          const db = jobsDb.database()
          await sql`delete from mortar_job`.execute(db.root)
          const queue = new SqlQueue({ database: db })
          const limit =
            engine.engine === 'mysql'
              ? Number(
                  (
                    await sql<{
                      bytes: string | number
                    }>`select @@max_allowed_packet as bytes`.execute(db.root)
                  ).rows[0]?.bytes,
                )
              : 64 * 1024 * 1024
          const nowMs = Date.now()
          const [small] = dueJobs('small', 1, nowMs)
          const large = { ...(small as NewJob), name: 'large', payload: `"${'x'.repeat(limit)}"` }
          const refusal = {
            name: 'ValidationError',
            code: 'E_VALIDATION',
            status: 422,
            issues: [vitest.expect.objectContaining({ path: 'payload', code: 'too_big' })],
          }
          await vitest.expect(queue.enqueue([large])).rejects.toMatchObject(refusal)
          await vitest
            .expect(queue.enqueue([small as NewJob, large]))
            .rejects.toMatchObject(refusal)
          await db.transaction(async () => {
            await vitest.expect(queue.enqueue([large])).rejects.toMatchObject(refusal)
            await queue.enqueue([small as NewJob])
          })
          vitest
            .expect(await queue.counts(nowMs))
            .toEqual([{ name: 'small', state: 'pending', count: 1 }])
        },
      )
    },
  )

  vitest.describe.skipIf(engine.skip !== undefined)(
    `SqlQueue completion on ${engine.title}`,
    () => {
      vitest.it('writes with a completion only for the jobs the worker still held', async () => {
        const db = jobsDb.database()
        await sql`delete from mortar_job`.execute(db.root)
        await sql`drop table if exists test_finished`.execute(db.root)
        await sql`create table test_finished (id varchar(36) primary key)`.execute(db.root)
        const queue = new SqlQueue({ database: db })
        const nowMs = Date.now()
        const job = (runAtMs: number) => ({
          name: 'finishing',
          payload: '{}',
          runAtMs,
          createdAtMs: nowMs,
          maxAttempts: 3,
          key: undefined,
        })
        const [first, second] = await queue.enqueue([job(nowMs - 2), job(nowMs - 1)])
        const claim = (worker: string, limit: number, leaseMs: number) =>
          queue.claim({ worker, names: ['finishing'], limit, nowMs, leaseMs })
        // w1's leases have passed by the database's clock at once; w2 takes the older job over.
        vitest.expect(await claim('w1', 2, -60_000)).toHaveLength(2)
        const [taken] = await claim('w2', 1, 60_000)
        vitest.expect(taken?.id).toBe(first)
        const asked: string[][] = []
        const done = await queue.completeAlongside('w1', [String(first), String(second)], (ids) => {
          asked.push([...ids])
          const table = db.kysely as Kysely<{ test_finished: { id: string } }>
          return [table.insertInto('test_finished').values(ids.map((id) => ({ id })))]
        })
        vitest.expect(done).toEqual([second])
        vitest.expect(asked.at(-1)).toEqual([second])
        const { rows } = await sql<{ id: string }>`select id from test_finished`.execute(db.root)
        vitest.expect(rows.map((row) => String(row.id))).toEqual([second])
        vitest.expect((await queue.get(String(first), nowMs + 20))?.worker).toBe('w2')
        await sql`drop table test_finished`.execute(db.root)
      })

      vitest.it(
        'retries a dead set of any size a page of rows at a time, and a list of ids of any length',
        async () => {
          // The queue's reads, through a plugin that sees the size of every result while on.
          const db = new Database({ url: jobsDb.url() })
          let watching = false
          let largest = 0
          db.addPlugin({
            transformQuery: (args) => args.node,
            transformResult: async (args) => {
              if (watching) largest = Math.max(largest, args.result.rows.length)
              return args.result
            },
          })
          try {
            await sql`delete from mortar_job`.execute(db.root)
            const queue = new SqlQueue({ database: db })
            const nowMs = Date.now()
            const keyed = dueJobs('keyed', 1_050, nowMs).map((job, index) => ({
              ...job,
              key: `k${index}`,
            }))
            const ids = (await queue.enqueue(keyed)) as string[]
            const bury = () =>
              sql`update mortar_job set dead_at = ${nowMs} where name = 'keyed'`.execute(db.root)
            await bury()
            // A live job holds one dead job's key: that one stays dead.
            await queue.enqueue([{ ...(keyed[7] as NewJob), name: 'holder' }])
            watching = true
            vitest.expect(await queue.retry('all', nowMs)).toBe(1_049)
            watching = false
            vitest.expect(largest).toBeLessThanOrEqual(1_000)
            // Ids past SQLite's 32,766 bind parameters, most of them of no job.
            await bury()
            const unknown = Array.from({ length: 40_000 }, (_, i) => String(10_000_000 + i))
            vitest.expect(await queue.retry([...unknown, ...ids], nowMs)).toBe(1_049)
          } finally {
            await db.destroy()
          }
        },
        60_000,
      )
    },
  )

  if (engine.engine === 'postgres') {
    vitest.describe.skipIf(engine.skip !== undefined)('SqlQueue upkeep on PostgreSQL', () => {
      vitest.it('vacuums its own table every 5,000 finished jobs', async () => {
        // Without autovacuum the dead rows of claims and deletions pile up in front of the due
        // index and every claim walks them: the queue must keep its table small by itself.
        const db = jobsDb.database()
        await sql`delete from mortar_job`.execute(db.root)
        const vacuums = async () => {
          const { rows } = await sql<{ count: string }>`select vacuum_count as count
            from pg_stat_user_tables where relname = 'mortar_job' and schemaname = current_schema()`.execute(
            db.root,
          )
          return Number(rows[0]?.count ?? 0)
        }
        const before = await vacuums()
        const queue = new SqlQueue({ database: db })
        const nowMs = Date.now()
        for (let round = 0; round < 5; round++) {
          await queue.enqueue(dueJobs('churn', 1_000, nowMs))
          const claimed = await queue.claim({
            worker: 'w1',
            names: ['churn'],
            limit: 1_000,
            nowMs,
            leaseMs: 60_000,
          })
          await queue.complete(
            'w1',
            claimed.map((job) => job.id),
          )
        }
        await vitest.expect
          .poll(vacuums, { timeout: 20_000, interval: 100 })
          .toBeGreaterThan(before)
      })

      vitest.it(
        'analyzes a never-analyzed table when a claim takes a whole batch, so claims walk the due index',
        async () => {
          // A new app's table: no statistics until the first vacuum, 5,000 finished jobs away.
          const fresh = await privateDatabaseUrl(engine)
          const db = new Database({ url: fresh.url, pool: 2 })
          try {
            await new ModuleMigrator({
              db: db.root,
              sources: [{ module: 'mortar.jobs', migrations: sqlQueueMigrations }],
            }).up()
            const queue = new SqlQueue({ database: db })
            const nowMs = Date.now()
            await queue.enqueue(dueJobs('backlog', 5_000, nowMs))
            const claim = (limit: number) =>
              queue.claim({
                worker: 'w1',
                names: ['backlog'],
                limit,
                nowMs,
                leaseMs: 60_000,
              })
            vitest.expect(await claim(100)).toHaveLength(100)
            // The statistics themselves: pg_stat_user_tables shows the analyze before it commits.
            const analyzed = async () => {
              const { rows } = await sql<{
                analyzed: boolean
              }>`select exists (select 1 from pg_stats
                  where schemaname = current_schema() and tablename = 'mortar_job') as analyzed`.execute(
                db.root,
              )
              return rows[0]?.analyzed
            }
            await vitest.expect.poll(analyzed, { timeout: 20_000, interval: 100 }).toBe(true)
            // Without statistics this plan sorted every due job to take the first hundred.
            const { rows } = await sql<{ 'QUERY PLAN': string }>`explain (costs off)
              select id from mortar_job where dead_at is null and run_at <= ${nowMs}
                and (locked_by is null or locked_by <> 'w1') and name in ('backlog')
              order by run_at, id limit 100 for update skip locked`.execute(db.root)
            const plan = rows.map((row) => row['QUERY PLAN']).join('\n')
            vitest.expect(plan).toContain('mortar_job_due')
            vitest.expect(plan).not.toContain('Sort')
          } finally {
            await db.destroy()
            await fresh.drop()
          }
        },
      )

      vitest.it(
        'claims from the head of the due index through the primary key, whatever the backlog',
        async () => {
          // One connection: the claim's reads count in the statistics this session flushes.
          const one = new Database({ url: jobsDb.url(), pool: 1 })
          try {
            await sql`delete from mortar_job`.execute(one.root)
            const queue = new SqlQueue({ database: one })
            const nowMs = Date.now()
            const backlog = 5_000
            await queue.enqueue(dueJobs('backlog', backlog, nowMs))
            // What the queue's upkeep leaves: a vacuumed table with statistics.
            await sql`vacuum (analyze) mortar_job`.execute(one.root)
            const reads = async () => {
              await sql`select pg_stat_force_next_flush()`.execute(one.root)
              const { rows } = await sql<{ seq: string; due: string }>`select
                  (select seq_scan from pg_stat_user_tables where relid = 'mortar_job'::regclass) as seq,
                  (select idx_tup_read from pg_stat_user_indexes where indexrelid = 'mortar_job_due'::regclass) as due`.execute(
                one.root,
              )
              return { seq: Number(rows[0]?.seq), due: Number(rows[0]?.due) }
            }
            const before = await reads()
            await vitest.expect.poll(reads, { timeout: 20_000, interval: 200 }).toEqual(before)
            const claimed = await queue.claim({
              worker: 'w1',
              names: ['backlog'],
              limit: 50,
              nowMs,
              leaseMs: 60_000,
            })
            vitest.expect(claimed).toHaveLength(50)
            await vitest.expect
              .poll(async () => (await reads()).due, { timeout: 20_000, interval: 200 })
              .toBeGreaterThan(before.due)
            const after = await reads()
            // A hash join over the whole table, or a sort of every due job, reads the backlog.
            vitest.expect(after.seq).toBe(before.seq)
            vitest.expect(after.due - before.due).toBeLessThan(backlog / 10)
          } finally {
            await one.destroy()
          }
        },
      )
    })
  }

  if (engine.engine === 'mysql') {
    vitest.describe.skipIf(engine.skip !== undefined)('SqlQueue claim on MariaDB', () => {
      // The named lock under which claims take turns at scanning the due index.
      const turn = sql`concat('mortar_job_claim:', md5(database()))`
      const turnIsFree = async (db: Database) => {
        const { rows } = await sql<{ free: unknown }>`select is_free_lock(${turn}) as free`.execute(
          db.root,
        )
        return Number(rows[0]?.free) === 1
      }
      const due = (nowMs: number) => ({
        name: 'turns',
        payload: '{}',
        runAtMs: nowMs,
        createdAtMs: nowMs,
        maxAttempts: 3,
        key: undefined,
      })
      const claimTurns = (queue: SqlQueue, worker: string, nowMs: number) =>
        queue.claim({
          worker,
          names: ['turns'],
          limit: 5,
          nowMs,
          leaseMs: 30_000,
        })

      vitest.it(
        'gives the turn back after a claim that takes jobs, one that takes none and one that fails',
        async () => {
          const db = jobsDb.database()
          await sql`delete from mortar_job`.execute(db.root)
          const queue = new SqlQueue({ database: db })
          const nowMs = Date.now()
          await queue.enqueue([due(nowMs), due(nowMs)])
          vitest.expect(await claimTurns(queue, 'w1', nowMs)).toHaveLength(2)
          vitest.expect(await turnIsFree(db)).toBe(true)
          vitest.expect(await claimTurns(queue, 'w1', nowMs)).toEqual([])
          vitest.expect(await turnIsFree(db)).toBe(true)
          // A job whose attempts cannot grow: the claim's UPDATE fails after taking the turn.
          await queue.enqueue([due(nowMs)])
          await sql`update mortar_job set attempts = 2147483647 where locked_by is null`.execute(
            db.root,
          )
          await vitest.expect(claimTurns(queue, 'w2', nowMs)).rejects.toThrow(/out of the range/)
          vitest.expect(await turnIsFree(db)).toBe(true)
        },
      )

      vitest.it(
        'waits for the turn before it scans, and goes on without one left held',
        async () => {
          const db = jobsDb.database()
          await sql`delete from mortar_job`.execute(db.root)
          const queue = new SqlQueue({ database: db })
          const nowMs = Date.now()
          const [id] = await queue.enqueue([due(nowMs)])
          // Another session holds the turn, as one that vanished unseen would.
          await db.root.connection().execute(async (holder) => {
            await sql`do get_lock(${turn}, 0)`.execute(holder)
            try {
              const claim = claimTurns(queue, 'w1', nowMs)
              await vitest.expect
                .poll(
                  async () => {
                    const { rows } = await sql<{ waiting: unknown }>`select count(*) as waiting
                  from information_schema.processlist where db = database() and state = 'User lock'`.execute(
                      db.root,
                    )
                    return Number(rows[0]?.waiting)
                  },
                  { interval: 10 },
                )
                .toBe(1)
              vitest.expect((await claim).map((job) => job.id)).toEqual([id])
            } finally {
              await sql`do release_lock(${turn})`.execute(holder)
            }
          })
          vitest.expect(await turnIsFree(db)).toBe(true)
        },
      )

      vitest.it('claims again when InnoDB ends the claim as a deadlock victim', async () => {
        const db = new Database({ url: jobsDb.url() })
        await db.connect()
        // The claim's first statement fails as InnoDB fails a deadlock victim (errno 1213).
        let failures = 0
        let armed = false
        db.addPlugin({
          transformQuery(args) {
            if (armed) {
              armed = false
              failures += 1
              throw Object.assign(new Error('Deadlock found when trying to get lock'), {
                errno: 1213,
              })
            }
            return args.node
          },
          transformResult: async (args) => args.result,
        })
        try {
          await sql`delete from mortar_job`.execute(db.root)
          const queue = new SqlQueue({ database: db })
          const nowMs = Date.now()
          const [id] = await queue.enqueue([
            {
              name: 'deadlocked',
              payload: '{}',
              runAtMs: nowMs,
              createdAtMs: nowMs,
              maxAttempts: 3,
              key: undefined,
            },
          ])
          armed = true
          const claimed = await queue.claim({
            worker: 'w1',
            names: ['deadlocked'],
            limit: 5,
            nowMs,
            leaseMs: 30_000,
          })
          vitest.expect(failures).toBe(1)
          vitest.expect(claimed.map((job) => job.id)).toEqual([id])
        } finally {
          await db.destroy()
        }
      })
    })
  }
}
