import { type Server, type Socket, createConnection, createServer } from 'node:net'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { App } from '../../app/app.js'
import { createApp } from '../../app/create-app.js'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { Database, DATABASE } from '../../persistence/database/index.js'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { JOBS } from '../job-queue.js'
import { isUniqueViolation } from '../sql/sql-queue.js'

const JOBS_IN_RUN = 400
const OUTAGE_MS = 2_500

/** How a test takes the database away from the app, and gives it back. */
interface Outage {
  /** The URL the app connects with. */
  readonly url: string
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
}

/**
 * A server engine behind a TCP proxy: down, it cuts every open connection and every new one,
 * as a server restart or a network partition does.
 */
async function proxied(url: string): Promise<Outage> {
  const target = new URL(url)
  const sockets = new Set<Socket>()
  let cut = false
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = createConnection(Number(target.port), target.hostname)
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from)
      from.pipe(to)
      from.on('error', () => to.destroy())
      from.on('close', () => {
        sockets.delete(from)
        to.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const through = new URL(url)
  through.hostname = '127.0.0.1'
  through.port = String(typeof address === 'object' && address !== null ? address.port : 0)
  return {
    url: through.toString(),
    async down() {
      cut = true
      for (const socket of sockets) socket.destroy()
    },
    async up() {
      cut = false
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** SQLite: another process's exclusive lock on the file, so no write gets through. */
function locked(url: string): Outage {
  const file = url.replace(/^sqlite:/, '')
  let holder: DatabaseSync | undefined
  return {
    url,
    async down() {
      holder = new DatabaseSync(file, { timeout: 10_000 })
      holder.exec('begin exclusive')
    },
    async up() {
      holder?.exec('rollback')
      holder?.close()
      holder = undefined
    },
    async close() {
      await this.up()
    },
  }
}

async function count(db: Kysely<unknown>, table: string): Promise<number> {
  const { rows } = await sql<{
    n: string | number
  }>`select count(*) as n from ${sql.table(table)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}.`)
    await sleep(50)
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `jobs with the database down on ${engine.title}`,
    () => {
      if (engine.skip) console.info(engine.skip)
      let target: PrivateDatabaseUrl
      let outage: Outage
      // Reads and checks from outside the outage.
      let direct: Database
      let app: App | undefined

      beforeAll(async () => {
        target = await privateDatabaseUrl(engine)
        direct = new Database(target.url)
        await direct.connect()
        await sql`create table down_done (id varchar(40) primary key)`.execute(direct.root)
        await sql`create table down_dup (id varchar(40) not null)`.execute(direct.root)
        outage = engine.engine === 'sqlite' ? locked(target.url) : await proxied(target.url)
      }, 60_000)

      afterAll(async () => {
        await outage?.up()
        await app?.stop().catch(() => undefined)
        await outage?.close()
        await direct?.destroy()
        await target?.drop()
      })

      it('loses no job when the database goes down mid-run: all run once it is back; enqueues meanwhile are refused', async () => {
        const logged: string[] = []
        const record = defineJob({
          name: 'down.record',
          schema: z.object({ n: z.number() }),
          attempts: 20,
          backoff: { baseMs: 50, maxMs: 500 },
          async handler(_payload, job) {
            await sleep(5)
            const db = job.resolve(DATABASE).root
            try {
              await sql`insert into down_done (id) values (${job.id})`.execute(db)
            } catch (error) {
              if (!isUniqueViolation(error)) throw error
              await sql`insert into down_dup (id) values (${job.id})`.execute(db)
            }
          },
        })
        app = createApp({
          // SQLite: a short busy wait, so a write meets the lock instead of outwaiting it.
          database: { url: outage.url, busyTimeoutMs: 50 },
          logger: createLogger({
            level: 'warn',
            destination: { write: (line: string) => void logged.push(line) },
          }),
          jobs: { workers: { concurrency: 4, batchSize: 20, leaseMs: 2_000, pollMs: 100 } },
          modules: [defineModule({ name: 'down', register() {}, jobs: [record] })],
        })
        await app.migrate()
        await app.start()
        const jobs = app.resolve(JOBS)
        await jobs.enqueueMany(
          record,
          Array.from({ length: JOBS_IN_RUN }, (_, n) => ({ payload: { n } })),
        )
        await until(
          'a first part ran',
          async () => (await count(direct.root, 'down_done')) >= 40,
          30_000,
        )

        await outage.down()
        // The caller of an enqueue learns of the outage: an error, never a job silently dropped.
        await expect(jobs.enqueue(record, { n: -1 })).rejects.toThrow()
        await sleep(OUTAGE_MS)
        expect(await count(direct.root, 'down_done')).toBeLessThan(JOBS_IN_RUN)
        await outage.up()

        await until(
          'every job ran',
          async () => (await count(direct.root, 'down_done')) >= JOBS_IN_RUN,
          60_000,
        )
        await until(
          'the queue is empty',
          async () => (await count(direct.root, 'mortar_job')) === 0,
          30_000,
        )
        await app.stop()
        app = undefined
        const { rows } = await sql<{ id: string }>`select id from down_done`.execute(direct.root)
        expect(rows.length).toBe(JOBS_IN_RUN)
        // The worker did meet the outage (so the test tested something), and said so.
        expect(logged.join('')).toMatch(/failed/)
      }, 120_000)
    },
  )
}
