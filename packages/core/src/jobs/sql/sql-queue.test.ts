import { sql } from 'kysely'
import { afterAll, beforeAll } from 'vitest'
import * as vitest from 'vitest'
import { Database } from '../../persistence/database/index.js'
import { ModuleMigrator } from '../../persistence/migrations/index.js'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  queueConformance,
  testEngines,
} from '../../testing/index.js'
import { SqlQueue } from './sql-queue.js'
import { sqlQueueMigrations } from './sql-queue-migrations.js'

for (const engine of testEngines()) {
  let target: PrivateDatabaseUrl | undefined
  let database: Database | undefined

  beforeAll(async () => {
    if (engine.skip) return
    target = await privateDatabaseUrl(engine)
    database = new Database({ url: target.url, pool: 12 })
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

  queueConformance(
    vitest,
    `SqlQueue on ${engine.title}`,
    async () => {
      const db = database as Database
      // A fresh queue per case in the one private database: empty the table first.
      await sql`delete from mortar_job`.execute(db.root)
      return { adapter: new SqlQueue({ database: db }), transaction: (fn) => db.transaction(fn) }
    },
    { skip: engine.skip },
  )
}
