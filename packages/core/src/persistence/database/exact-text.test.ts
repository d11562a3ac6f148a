import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { Database } from './database.js'
import { exactTextType } from './exact-text.js'

interface Db {
  keyed: { k: string }
}

// Strings that MySQL/MariaDB's default and `_bin` collations take for one another.
const KEYS = ['ada', 'Ada', 'adá', 'ada ', 'ada  ', 'ada\t', 'ß', 'ss', 'ﬀ', 'ff']

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`exactTextType on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl
    let database: Database<Db>

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
      database = new Database<Db>(target.url)
      await database.connect()
      await database.root.schema
        .createTable('keyed')
        .addColumn('k', sql.raw(exactTextType(engine.engine, 'varchar(20)')), (c) => c.primaryKey())
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await target?.drop()
    })

    it(`keeps values apart that differ in case, accents or trailing spaces, in a unique key and a where, on ${engine.title}`, async () => {
      await database.kysely
        .insertInto('keyed')
        .values(KEYS.map((k) => ({ k })))
        .execute()
      for (const k of KEYS) {
        const found = await database.kysely
          .selectFrom('keyed')
          .select('k')
          .where('k', '=', k)
          .execute()
        expect(found.map((row) => row.k)).toEqual([k])
      }
    })
  })
}
