import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { PolicyDatabaseError } from '../errors.js'
import { clearWorld, findDisagreement, insertWorld } from '../testing/policy-agreement.js'
import { definePolicy } from './define-policy.js'

interface LedgerDb {
  ledger: { id: number; amount: string; day: Date }
}

// A deny by `eq`: where the driver reads a DECIMAL as 1.5 or a DATE as '2026-01-01', the point
// check denied the row and the SQL, comparing '1.50' and a date, let it through.
const policy = definePolicy<LedgerDb, { amount: string; day: Date }, 'read'>({ roles: () => [] })
  .allow('read', 'ledger', true)
  .deny('read', 'ledger', (t, p) => t.eq('amount', p.amount))
  .deny('read', 'ledger', (t, p) => t.eq('day', p.day))
  .build()

for (const engine of testEngines().filter((each) => each.engine !== 'sqlite')) {
  describe.skipIf(engine.skip !== undefined)(`a database driver on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let url: string
    let drop: () => Promise<void>
    const opened: { destroy(): Promise<void> }[] = []
    const open = (suffix: string) => {
      const database = new Database<LedgerDb>(`${url}${url.includes('?') ? '&' : '?'}${suffix}`)
      opened.push(database)
      return database.kysely
    }

    beforeAll(async () => {
      const location = await privateDatabaseUrl(engine)
      url = location.url
      drop = location.drop
      const db = open('')
      await db.schema
        .createTable('ledger')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('amount', 'decimal(6, 2)')
        .addColumn('day', 'date')
        .execute()
    })

    afterAll(async () => {
      for (const each of opened) await each.destroy()
      await drop?.()
    })

    it('reading values as @mortar/core configures it, is taken, and the SQL agrees with the point check', async () => {
      const db = open('')
      const access = await AccessControl.create({ policy, db })
      const world = { ledger: [{ id: 1, amount: '1.50', day: new Date(2026, 0, 1) }] }
      await insertWorld(db, world)
      try {
        const [row] = await db.selectFrom('ledger').selectAll().execute()
        const principal = { amount: row?.amount ?? '', day: row?.day ?? new Date(0) }
        expect(
          await findDisagreement({
            access,
            db,
            resource: 'ledger',
            action: 'read',
            key: 'id',
            principal,
          }),
        ).toEqual({ onlyCan: [], onlyWhere: [] })
      } finally {
        await clearWorld(db, world)
      }
    })

    if (engine.engine === 'mysql') {
      it.each([
        ['decimalNumbers=true', /decimalNumbers/],
        ['dateStrings=true', /dateStrings/],
      ])('reading with %s, is refused with PolicyDatabaseError', async (option, named) => {
        const created = AccessControl.create({ policy, db: open(option) })
        await expect(created).rejects.toThrow(PolicyDatabaseError)
        await expect(created).rejects.toThrow(named)
      })

      it('reading BIGINT as numbers, DOUBLE digit by digit or dates by mysql2 (a pool of mysql2 defaults), is refused', async () => {
        const mysql = await import('mysql2')
        const db = new Kysely<LedgerDb>({
          dialect: new MysqlDialect({ pool: mysql.createPool({ uri: url, connectionLimit: 1 }) }),
        })
        opened.push(db)
        const created = AccessControl.create({ policy, db })
        await expect(created).rejects.toThrow(/BIGINT as a number/)
        await expect(created).rejects.toThrow(/DOUBLE digit by digit/)
        await expect(created).rejects.toThrow(/a year below 100/)
      })
    } else {
      it('reading with an app type parser (int8, numeric as numbers, date as text), is refused', async () => {
        const { default: pg } = await import('pg')
        const raw = (text: string) => text
        const parsers: Record<number, (text: string) => unknown> = {
          20: Number,
          1700: Number,
          1082: raw,
        }
        const pool = new pg.Pool({
          connectionString: url,
          max: 1,
          types: {
            getTypeParser: ((oid: number, format?: 'text') =>
              parsers[oid] ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
          },
        })
        const db = new Kysely<LedgerDb>({ dialect: new PostgresDialect({ pool }) })
        opened.push(db)
        const created = AccessControl.create({ policy, db })
        await expect(created).rejects.toThrow(PolicyDatabaseError)
        await expect(created).rejects.toThrow(
          /int8 as a number.*numeric as a number.*date otherwise/,
        )
      })
    }
  })
}
