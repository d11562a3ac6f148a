// The SQL queue's tables in a private database of one engine, for the queue tests that run on
// them (sql-queue.test.ts, bullmq-queue.test.ts, outbox-relay.test.ts).
import { afterAll, beforeAll } from 'vitest'
import { Database } from '../../persistence/database/index.js'
import { ModuleMigrator } from '../../persistence/migrations/index.js'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestEngine,
} from '../../testing/index.js'
import { sqlQueueMigrations } from './sql-queue-migrations.js'

/** The private database of {@link privateJobsDatabase}, read inside a test. */
export interface PrivateJobsDatabase {
  /** The connected database. */
  database(): Database
  /** Its URL, for another connection to it. */
  url(): string
}

/**
 * Makes a private schema or database of `engine` with the SQL queue's tables before the tests
 * of the calling scope, and destroys and drops it after them; nothing when `skip` is set.
 */
export function privateJobsDatabase(
  engine: TestEngine,
  options: { readonly pool: number; readonly skip?: string | undefined },
): PrivateJobsDatabase {
  let target: PrivateDatabaseUrl | undefined
  let database: Database | undefined

  beforeAll(async () => {
    if (options.skip !== undefined) return
    target = await privateDatabaseUrl(engine)
    database = new Database({ url: target.url, pool: options.pool })
    await database.connect()
    await new ModuleMigrator({
      db: database.root,
      sources: [{ module: 'mortar.jobs', migrations: sqlQueueMigrations }],
    }).up()
  })

  afterAll(async () => {
    await database?.destroy()
    await target?.drop()
  })

  const missing = () => new Error(`no jobs database on ${engine.title}`)
  return {
    database: () => {
      if (database === undefined) throw missing()
      return database
    },
    url: () => {
      if (target === undefined) throw missing()
      return target.url
    },
  }
}
