import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { Database } from './database.js'
import { readMysqlDate } from './mysql-type-cast.js'

const pad = (value: number, width = 2) => String(value).padStart(width, '0')

describe('readMysqlDate', () => {
  it('reads every calendar date and time of MariaDB’s range as that instant in UTC, to the millisecond', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0000-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 999 }),
        (at, micros) => {
          const text = `${pad(at.getUTCFullYear(), 4)}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}.${pad(at.getUTCMilliseconds(), 3)}${pad(micros, 3)}`
          expect(readMysqlDate(text).getTime()).toBe(at.getTime())
          const day = text.slice(0, 10)
          expect(readMysqlDate(day).getTime()).toBe(
            at.getTime() - (((at.getTime() % 86_400_000) + 86_400_000) % 86_400_000),
          )
        },
      ),
    )
  })

  it('reads a date no calendar holds as an invalid Date, never as another date', () => {
    const texts = [
      '0000-00-00',
      '0000-00-00 00:00:00',
      '2024-00-10',
      '2024-02-00',
      '2024-02-30',
      '2023-02-29',
      '2024-04-31',
      '2024-13-01',
      '0000-01-00 10:00:00.5',
    ]
    for (const text of texts) expect(readMysqlDate(text).getTime(), text).toBeNaN()
    expect(readMysqlDate('2024-02-29').toISOString()).toBe('2024-02-29T00:00:00.000Z')
    expect(readMysqlDate('0050-06-01').getUTCFullYear()).toBe(50)
    expect(readMysqlDate('0000-01-01 00:00:00').getUTCFullYear()).toBe(0)
  })
})

const mysql = testEngines().find((engine) => engine.engine === 'mysql')

interface Db {
  days: { id: number; day: Date | null; at: Date | null; ts: Date | null }
}

describe.skipIf(mysql?.skip !== undefined)('MariaDB dates read by core’s pool', () => {
  if (mysql?.skip) console.info(mysql.skip)
  let target: PrivateDatabaseUrl
  let database: Database<Db>

  beforeAll(async () => {
    target = await privateDatabaseUrl(mysql as NonNullable<typeof mysql>)
    database = new Database<Db>(target.url)
    await sql`create table days (id int primary key, day date, at datetime(6), ts timestamp(6) null)`.execute(
      database.kysely,
    )
  })

  afterAll(async () => {
    await database?.destroy()
    await target?.drop()
  })

  it('reads zero and impossible dates as invalid Dates and years below 100 as themselves', async () => {
    // A server without NO_ZERO_DATE / NO_ZERO_IN_DATE (MariaDB's default) stores zero dates,
    // and ALLOW_INVALID_DATES a 31st of February.
    await database.kysely.connection().execute(async (db) => {
      await sql`set session sql_mode = 'ALLOW_INVALID_DATES'`.execute(db)
      await sql`insert into days values
        (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
        (2, '2024-00-10', '2024-02-31 10:00:00', null),
        (3, '2024-02-00', '2024-00-01 00:00:00', null),
        (4, '0050-06-01', '0001-01-01 00:00:00.000999', '2026-01-01 10:00:00.123456')`.execute(db)
    })
    const rows = await database.kysely.selectFrom('days').selectAll().orderBy('id').execute()
    const times = rows.map((row) => [row.day, row.at, row.ts].map((value) => value?.getTime()))
    expect(
      times
        .slice(0, 3)
        .flat()
        .filter((time) => time !== undefined),
    ).toEqual(Array(7).fill(Number.NaN))
    expect(rows[3]?.day?.toISOString()).toBe('0050-06-01T00:00:00.000Z')
    expect(rows[3]?.at?.toISOString()).toBe('0001-01-01T00:00:00.000Z')
    expect(rows[3]?.ts?.toISOString()).toBe('2026-01-01T10:00:00.123Z')
  })
})
