import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { DATABASE } from '../../persistence/database/index.js'
import { createTestApp, testEngines } from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { JOBS } from '../job-queue.js'

const mysql = testEngines().find((engine) => engine.engine === 'mysql')
const TEXT = 'Grüße 👋🏽 from 東京 — 𝄞'

// The tables as a Mortar of before 4 December created them on a latin1 database: history without
// a charset, the job tables with a padding collation.
const OLDER_TABLES = [
  `create table mortar_migration (name varchar(255) primary key, module varchar(255) not null,
    seq integer not null, applied_at varchar(32) not null)`,
  `create table mortar_job (id bigint not null auto_increment primary key,
    name varchar(191) not null, payload mediumtext not null, dedup_key varchar(191) null,
    run_at bigint not null, attempts int not null default 0, max_attempts int not null,
    locked_by varchar(64) null, progress text null, errors mediumtext null,
    created_at bigint not null, dead_at bigint null,
    live_key varchar(191) as (if(dead_at is null, dedup_key, null)) stored,
    unique key mortar_job_live_key (live_key), key mortar_job_due (dead_at, run_at, id)
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`,
  `alter table mortar_job add column claim_token char(16) null`,
  `create table mortar_schedule (name varchar(191) primary key, spec varchar(400) not null,
    next_at bigint not null, last_at bigint) collate = utf8mb4_bin`,
  `insert into mortar_migration values
    ('mortar.jobs/0001_create_mortar_job', 'mortar.jobs', 1, '2026-12-01T00:00:00.000Z'),
    ('mortar.jobs/0002_create_mortar_schedule', 'mortar.jobs', 2, '2026-12-01T00:00:00.000Z'),
    ('mortar.jobs/0003_add_mortar_job_claim_token', 'mortar.jobs', 3, '2026-12-01T00:00:00.000Z')`,
]

// Skipped only when MORTAR_TEST_MYSQL_URL is unset (the notice names it); .ci/run sets it.
describe.skipIf(mysql?.skip !== undefined)('core tables on a latin1 MariaDB database', () => {
  if (mysql?.skip) console.info(mysql.skip)
  const names: string[] = []
  async function admin(statements: readonly string[], database?: string): Promise<void> {
    const driver = await import('mysql2/promise')
    const client = await driver.createConnection({
      uri: mysql?.baseUrl as string,
      ...(database === undefined ? {} : { database }),
    })
    try {
      for (const statement of statements) await client.query(statement)
    } finally {
      await client.end()
    }
  }
  afterAll(() => admin(names.map((name) => `drop database if exists ${name}`)))

  async function latin1Database(older: boolean): Promise<string> {
    const name = `mortar_test_${randomBytes(6).toString('hex')}`
    names.push(name)
    await admin([`create database ${name} character set latin1 collate latin1_swedish_ci`])
    if (older) await admin(OLDER_TABLES, name)
    const url = new URL(mysql?.baseUrl as string)
    url.pathname = `/${name}`
    return url.toString()
  }

  for (const older of [false, true]) {
    it(`round-trips an emoji payload through a job, and keeps every table UTF-8 and exact (${older ? 'tables of an older Mortar' : 'new database'})`, async () => {
      const seen: string[] = []
      const echo = defineJob({
        name: 'test.echo',
        schema: z.object({ text: z.string() }),
        handler: ({ text }) => {
          seen.push(text)
        },
      })
      const app = createTestApp({
        modules: [defineModule({ name: 'test', register() {}, jobs: [echo] })],
        database: await latin1Database(older),
        jobs: { engine: 'database', workers: false },
        logger: createLogger({ level: 'silent' }),
      })
      await app.migrate()
      await app.start()
      try {
        const jobs = app.resolve(JOBS)
        await jobs.enqueue(echo, { text: TEXT }, { key: 'a' })
        // Two keys a padding collation takes for one: both jobs are kept.
        await jobs.enqueue(echo, { text: TEXT }, { key: 'a ' })
        await jobs.drain()
        expect(seen).toEqual([TEXT, TEXT])
        const inexact = await sql<{ name: string; collation: string }>`
          select concat(table_name, '.', column_name) as name, collation_name as collation
          from information_schema.columns where table_schema = database()
          and collation_name is not null
          and collation_name not in ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`.execute(
          app.resolve(DATABASE).root,
        )
        expect(inexact.rows).toEqual([])
      } finally {
        await app.stop()
      }
    })
  }
})
