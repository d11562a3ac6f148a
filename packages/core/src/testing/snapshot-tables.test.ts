import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { DATABASE, type Database } from '../persistence/database/index.js'
import { createTestApp, type TestApp } from './create-test-app.js'
import { snapshotTables } from './snapshot-tables.js'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from './test-databases.js'

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`snapshotTables on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    const opened: { app: TestApp; database: PrivateDatabaseUrl }[] = []
    afterAll(async () => {
      for (const { app, database } of opened) {
        await app.stop()
        await database.drop()
      }
    })
    const start = async (table: string) => {
      const database = await privateDatabaseUrl(engine)
      const app = createTestApp({ database: database.url, modules: [] })
      await app.start()
      opened.push({ app, database })
      const db = (app.resolve(DATABASE) as Database).kysely
      await sql`create table ${sql.table(table)} (id integer primary key)`.execute(db)
      await sql`insert into ${sql.table(table)} (id) values (1)`.execute(db)
      return app
    }

    it("reads the app's own tables only, not another database's or schema's beside it", async () => {
      // Before, on PostgreSQL, it read every schema of the server: other tests' tables too, some
      // dropped while it read them.
      const mine = await start('snapshot_mine')
      await start('snapshot_theirs')
      const snapshot = await snapshotTables(mine)
      const names = Object.keys(snapshot)
      expect(names.some((name) => name.endsWith('snapshot_mine'))).toBe(true)
      expect(names.some((name) => name.endsWith('snapshot_theirs'))).toBe(false)
    })
  })
}
