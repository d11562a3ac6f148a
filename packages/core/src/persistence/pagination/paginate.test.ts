import fc from 'fast-check'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../errors/http-errors.js'
import { isMortarError } from '../../errors/mortar-error.js'
import { openTestDatabase, type TestDatabase, testEngineCases } from '../testing/test-databases.js'
import { type Page, paginate, type SortKey } from './paginate.js'
import { Paginator } from './paginator.js'

interface Db {
  items: { id: number; score: number; label: string; note: string | null }
}

type Direction = 'asc' | 'desc'
type Column = 'score' | 'label' | 'note'
type Row = { score: number; label: string; note: string | null }

const KEY = 'paginate-test-key-0123456789abcdef'
const OTHER_KEY = 'other-test-key-fedcba9876543210zyx'

async function fill(db: Kysely<Db>, rows: readonly Partial<Row>[]): Promise<void> {
  await db.deleteFrom('items').execute()
  for (let start = 0; start < rows.length; start += 100) {
    const batch = rows.slice(start, start + 100).map((row, index) => ({
      id: start + index + 1,
      score: row.score ?? 0,
      label: row.label ?? '',
      note: row.note ?? null,
    }))
    if (batch.length > 0) await db.insertInto('items').values(batch).execute()
  }
}

/**
 * The order paginate promises, computed apart from any engine: NULL after every value
 * ascending, before every value descending; strings of a, b, c compare alike in JS and in each
 * engine's collation.
 */
function compareBy(keys: readonly { column: Column | 'id'; direction: Direction }[]) {
  return (a: Row & { id: number }, b: Row & { id: number }): number => {
    for (const { column, direction } of keys) {
      const x = a[column]
      const y = b[column]
      if (x === y) continue
      const order = x === null ? 1 : y === null ? -1 : x < y ? -1 : 1
      return direction === 'asc' ? order : -order
    }
    return 0
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
}

for (const testCase of testEngineCases()) {
  if (testCase.skipReason) console.info(testCase.skipReason)

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(testCase.skipReason !== undefined)(`paginate on ${testCase.engine}`, () => {
    let handle: TestDatabase<Db>
    let db: Kysely<Db>
    const paginator = new Paginator({ key: KEY })
    const selection = () => db.selectFrom('items').select(['id', 'score', 'label'])

    beforeAll(async () => {
      handle = await openTestDatabase<Db>(testCase)
      db = handle.db
      await db.schema
        .createTable('items')
        .addColumn('id', 'integer', (column) => column.primaryKey())
        .addColumn('score', 'integer', (column) => column.notNull())
        .addColumn('label', 'varchar(8)', (column) => column.notNull())
        .addColumn('note', 'varchar(8)')
        .execute()
    })

    afterAll(async () => {
      await handle?.destroy()
    })

    it(`[${testCase.engine}] pages through random data with duplicates and NULLs, every row once and in order`, async () => {
      const row = fc.record({
        score: fc.integer({ min: 0, max: 4 }),
        label: fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 3 }),
        note: fc.option(fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 2 }), {
          freq: 3,
        }),
      })
      const key = fc.record({
        column: fc.constantFrom<Column>('score', 'label', 'note'),
        direction: fc.constantFrom<Direction>('asc', 'desc'),
      })
      const ordering = fc.uniqueArray(key, {
        minLength: 1,
        maxLength: 3,
        selector: (k) => k.column,
      })
      const selectAll = () => db.selectFrom('items').select(['id', 'score', 'label', 'note'])
      await fc.assert(
        fc.asyncProperty(
          fc.array(row, { maxLength: 40 }),
          fc.integer({ min: 1, max: 7 }),
          ordering,
          fc.constantFrom<Direction>('asc', 'desc'),
          async (rows, limit, orderBy, idDirection) => {
            await fill(db, rows)
            const keys = [...orderBy, { column: 'id' as const, direction: idDirection }]
            const all = (await selectAll().execute()).sort(compareBy(keys))
            const sortKeys = keys.map(
              (k): SortKey<Db, 'items', (typeof all)[number]> =>
                k.column === 'note'
                  ? { column: 'note', direction: k.direction, nullable: true }
                  : { column: k.column, direction: k.direction },
            )

            const seen: (typeof all)[number][] = []
            let after: string | null = null
            for (let pages = 0; pages <= rows.length + 1; pages++) {
              const page: Page<(typeof all)[number]> = await paginator.paginate(selectAll(), {
                orderBy: sortKeys,
                after,
                limit,
              })
              expect(page.items.length).toBeLessThanOrEqual(limit)
              seen.push(...page.items)
              after = page.nextCursor
              if (after === null) break
            }
            expect(after).toBeNull()
            expect(seen.map((item) => item.id)).toEqual(all.map((item) => item.id))
            expect(new Set(seen.map((item) => item.id)).size).toBe(rows.length)
          },
        ),
        { numRuns: 40 },
      )
    })

    it(`[${testCase.engine}] puts NULLs last ascending and first descending, and carries a NULL in the cursor`, async () => {
      await fill(db, [
        { score: 1, note: 'b' },
        { score: 2, note: null },
        { score: 3, note: 'a' },
        { score: 4, note: null },
      ])
      const notes = db.selectFrom('items').select(['id', 'note'])
      const walk = async (direction: Direction) => {
        const ids: number[] = []
        let after: string | null = null
        do {
          const page: Page<{ id: number; note: string | null }> = await paginator.paginate(notes, {
            orderBy: [{ column: 'note', direction, nullable: true }],
            after,
            limit: 1,
          })
          ids.push(...page.items.map((item) => item.id))
          after = page.nextCursor
        } while (after !== null)
        return ids
      }
      expect(await walk('asc')).toEqual([3, 1, 2, 4])
      expect(await walk('desc')).toEqual([4, 2, 1, 3])
    })

    it(`[${testCase.engine}] returns a next cursor only when more rows follow`, async () => {
      await fill(db, [
        { score: 1, label: 'a' },
        { score: 1, label: 'b' },
        { score: 2, label: 'c' },
      ])
      const first = await paginator.paginate(selection(), { orderBy: ['score'], limit: 2 })
      expect(first.items.map((item) => item.id)).toEqual([1, 2])
      expect(first.nextCursor).toEqual(expect.any(String))
      const second = await paginator.paginate(selection(), {
        orderBy: ['score'],
        limit: 2,
        after: first.nextCursor,
      })
      expect(second.items.map((item) => item.id)).toEqual([3])
      expect(second.nextCursor).toBeNull()
      const exact = await paginator.paginate(selection(), { orderBy: ['score'], limit: 3 })
      expect(exact.nextCursor).toBeNull()
    })

    it(`[${testCase.engine}] the paginate function signs with the key in its options`, async () => {
      await fill(db, [
        { score: 1, label: 'a' },
        { score: 2, label: 'b' },
      ])
      const first = await paginate(selection(), { orderBy: ['score'], limit: 1, key: KEY })
      const second = await paginator.paginate(selection(), {
        orderBy: ['score'],
        limit: 1,
        after: first.nextCursor,
      })
      expect(second.items.map((item) => item.id)).toEqual([2])
    })

    describe(`[${testCase.engine}] refuses cursors it did not issue for this listing`, () => {
      let cursor: string
      beforeAll(async () => {
        await fill(db, [
          { score: 3, label: 'a' },
          { score: 2, label: 'b' },
          { score: 1, label: 'c' },
        ])
        const page = await paginator.paginate(selection(), { orderBy: ['score'], limit: 1 })
        cursor = page.nextCursor ?? ''
        expect(cursor).not.toBe('')
      })

      const expectInvalid = async (after: string, request = () => selection()) => {
        const error = await rejection(
          paginator.paginate(request(), { orderBy: ['score'], limit: 1, after }),
        )
        expect(error).toBeInstanceOf(ValidationError)
        const validation = error as ValidationError
        expect(validation.status).toBe(422)
        expect(validation.issues[0]).toMatchObject({ path: 'after', code: 'invalid_cursor' })
        expect(validation.message).not.toContain(String(after).slice(0, 12) || '\u0000')
      }

      it('rejects a cursor with any single byte flipped', async () => {
        const bytes = Buffer.from(cursor, 'base64url')
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: bytes.length - 1 }),
            fc.integer({ min: 1, max: 255 }),
            async (index, mask) => {
              const forged = Buffer.from(bytes)
              forged[index] = (forged[index] ?? 0) ^ mask
              await expectInvalid(forged.toString('base64url'))
            },
          ),
          { numRuns: 50 },
        )
      })

      it('accepts a cursor signed by a key rotated to second place', async () => {
        const rotated = new Paginator({ key: [OTHER_KEY, KEY] })
        const page = await rotated.paginate(selection(), {
          orderBy: ['score'],
          limit: 1,
          after: cursor,
        })
        expect(page.items.map((item) => item.score)).toEqual([2])
        const fresh = await rotated.paginate(selection(), { orderBy: ['score'], limit: 1 })
        // New cursors are signed by the first key, so the old paginator refuses them.
        await expectInvalid(fresh.nextCursor ?? '')
      })

      it('rejects a cursor signed with another key', async () => {
        const other = new Paginator({ key: OTHER_KEY })
        const page = await other.paginate(selection(), { orderBy: ['score'], limit: 1 })
        await expectInvalid(page.nextCursor ?? '')
      })

      it("rejects another query's cursor and another ordering's cursor", async () => {
        await expectInvalid(cursor, () => selection().where('score', '>', 0))
        const error = await rejection(
          paginator.paginate(selection(), {
            orderBy: [{ column: 'score', direction: 'desc' }],
            limit: 1,
            after: cursor,
          }),
        )
        expect(error).toBeInstanceOf(ValidationError)
      })

      it('rejects garbage, short base64 and the empty string', async () => {
        await expectInvalid('not a cursor!')
        await expectInvalid('aGVsbG8')
        await expectInvalid(Buffer.alloc(40, 1).toString('base64url'))
        await expectInvalid('')
        await expectInvalid('A'.repeat(5000))
        // A query string parser may hand over a number or an array instead of a string.
        await expectInvalid(123456 as never)
        await expectInvalid(['a', 'b'] as never)
      })
    })

    it(`[${testCase.engine}] sorts by an aliased column through its ref`, async () => {
      await fill(db, [
        { score: 1, label: 'b' },
        { score: 2, label: 'a' },
        { score: 3, label: 'b' },
      ])
      const titled = () => db.selectFrom('items').select(['id', 'label as title'])
      const request = {
        orderBy: [
          { column: 'title' as const, direction: 'desc' as const, ref: 'items.label' as const },
        ],
        limit: 2,
      }
      const first = await paginator.paginate(titled(), request)
      const second = await paginator.paginate(titled(), { ...request, after: first.nextCursor })
      expect([...first.items, ...second.items].map((item) => item.id)).toEqual([3, 1, 2])
    })

    // SQLite has no date or bigint column type: its drivers hand back strings and numbers.
    if (testCase.engine !== 'sqlite') {
      /** A table of `id` and a NOT NULL timestamp `at` keeping `digits` fractional digits. */
      const createEvents = async (
        table: string,
        id: 'bigint' | 'integer',
        digits: 3 | 6,
      ): Promise<void> => {
        await db.schema.dropTable(table).ifExists().execute()
        await db.schema
          .createTable(table)
          .addColumn('id', id, (column) => column.primaryKey())
          .addColumn(
            'at',
            sql.raw(`${testCase.engine === 'postgres' ? 'timestamptz' : 'datetime'}(${digits})`),
            (column) => column.notNull(),
          )
          .execute()
      }

      it(`[${testCase.engine}] carries timestamps and bigints through the cursor`, async () => {
        interface Events {
          events: { id: string; at: Date }
        }
        const events = db as unknown as Kysely<Events>
        await createEvents('events', 'bigint', 3)
        const base = Date.UTC(2026, 0, 1)
        const rows = [0, 1, 1, 2, 3, 3, 3, 4].map((step, index) => ({
          id: String(9_007_199_254_740_993n + BigInt(index)),
          at: new Date(base + step * 1500 + 7),
        }))
        await events.insertInto('events').values(rows).execute()
        const seen: string[] = []
        let after: string | null = null
        do {
          const page: Page<{ id: string; at: Date }> = await paginator.paginate(
            events.selectFrom('events').select(['id', 'at']),
            { orderBy: [{ column: 'at', direction: 'desc' }], after, limit: 3 },
          )
          seen.push(...page.items.map((item) => String(item.id)))
          after = page.nextCursor
        } while (after !== null)
        const expected = [...rows]
          .sort((a, b) => b.at.getTime() - a.at.getTime() || (BigInt(b.id) > BigInt(a.id) ? 1 : -1))
          .map((row) => row.id)
        expect(seen).toEqual(expected)
      })

      // PostgreSQL's timestamptz (6 digits by default) and MariaDB's datetime(6) keep microseconds.
      it(`[${testCase.engine}] pages through rows sharing a millisecond by their microseconds, every row once, both ways`, async () => {
        interface Events {
          fine_events: { id: number; at: Date }
        }
        const events = db as unknown as Kysely<Events>
        await createEvents('fine_events', 'integer', 6)
        // Seven rows in one millisecond (more than a page), two sharing a microsecond, and
        // neighbours in the milliseconds around it; ids run against the microseconds.
        const micros = [999, 5_101, 5_102, 5_103, 5_104, 5_104, 5_105, 5_106, 5_107, 6_000, 7_500]
        const zone = testCase.engine === 'postgres' ? '+00' : ''
        const rows = micros.map((micro, index) => ({
          id: micros.length - index,
          micro,
          at: `2026-01-01 00:00:00.${String(micro).padStart(6, '0')}${zone}`,
        }))
        await events
          .insertInto('fine_events')
          .values(rows.map(({ id, at }) => ({ id, at: at as unknown as Date })))
          .execute()
        for (const direction of ['asc', 'desc'] as const) {
          const seen: number[] = []
          let after: string | null = null
          // Bounded: without full precision a millisecond holding a whole page returns it for good.
          for (let pages = 0; pages <= rows.length; pages++) {
            const page: Page<{ id: number; at: Date }> = await paginator.paginate(
              events.selectFrom('fine_events').select(['id', 'at']),
              { orderBy: [{ column: 'at', direction }], after, limit: 3 },
            )
            expect(Object.keys(page.items[0] ?? {}).sort()).toEqual(['at', 'id'])
            seen.push(...page.items.map((item) => item.id))
            after = page.nextCursor
            if (after === null) break
          }
          const sign = direction === 'asc' ? 1 : -1
          const expected = [...rows]
            .sort((a, b) => sign * (a.micro - b.micro || a.id - b.id))
            .map((row) => row.id)
          expect(seen).toEqual(expected)
        }
      })
    }

    it(`[${testCase.engine}] pages by a single-precision float key with every row once, or refuses it; never a page again`, async () => {
      interface Floats {
        floats: { id: number; score: number }
      }
      const floats = db as unknown as Kysely<Floats>
      await sql`drop table if exists floats`.execute(db)
      // MariaDB's FLOAT reaches the driver as 6 digits of text (0.1234567 as 0.123457), a value
      // the column never compares equal to; PostgreSQL's real and SQLite's REAL are read exactly.
      const type = testCase.engine === 'mysql' ? 'float' : 'real'
      await sql`create table floats (id integer primary key, score ${sql.raw(type)} not null)`.execute(
        db,
      )
      const scores = [0.1, 0.1, 0.1, 0.1234567, 0.1234567, 0.1234567, 0.7, 0.7, 0.7]
      await floats
        .insertInto('floats')
        .values(scores.map((score, index) => ({ id: index + 1, score })))
        .execute()
      for (const direction of ['asc', 'desc'] as const) {
        const seen: number[] = []
        let after: string | null = null
        let error: unknown
        try {
          // Bounded: a cursor the column never equals returns its page for good.
          for (let pages = 0; pages <= scores.length; pages++) {
            const page: Page<{ id: number }> = await paginator.paginate(
              floats.selectFrom('floats').select(['id', 'score']),
              { orderBy: [{ column: 'score', direction }], after, limit: 2 },
            )
            seen.push(...page.items.map((item) => item.id))
            after = page.nextCursor
            if (after === null) break
          }
        } catch (caught) {
          error = caught
        }
        if (testCase.engine === 'mysql') {
          expect(isMortarError(error) && error.code, `${direction}: saw ${seen}`).toBe(
            'E_PAGINATION_SORT_VALUE',
          )
          expect(seen.length).toBeLessThanOrEqual(2)
        } else {
          expect(error).toBeUndefined()
          const ids = scores.map((_, index) => index + 1)
          expect(seen).toEqual(direction === 'asc' ? ids : [...ids].reverse())
        }
      }
    })

    it(`[${testCase.engine}] pages by double keys whose text is not their shortest form, every row once, both ways`, async () => {
      interface Doubles {
        doubles: { id: number; score: number }
      }
      const doubles = db as unknown as Kysely<Doubles>
      await sql`drop table if exists doubles`.execute(db)
      const type =
        testCase.engine === 'postgres'
          ? 'double precision'
          : testCase.engine === 'mysql'
            ? 'double'
            : 'real'
      await sql`create table doubles (id integer primary key, score ${sql.raw(type)} not null)`.execute(
        db,
      )
      // SQLite's quote() spells π as 3.1415926535897931 and 1/3 as 0.33333333333333332, digits
      // JavaScript's shortest form leaves out; each ends a page at some limit below. Doubles
      // past 2^53 (1e21, written with an exponent) are exact too, not a rounded big integer.
      const values = [
        Math.PI,
        1 / 3,
        0.1 + 0.2,
        (2 / 3) * 1e-9,
        -Math.PI,
        1e-7,
        1e21,
        -1e21,
        1e16,
        1e300,
        5e-324,
      ]
      const scores = [...values, ...values]
      await doubles
        .insertInto('doubles')
        .values(scores.map((score, index) => ({ id: index + 1, score })))
        .execute()
      for (const limit of [1, 2, 3]) {
        for (const direction of ['asc', 'desc'] as const) {
          const seen: number[] = []
          let after: string | null = null
          for (let pages = 0; pages <= scores.length; pages++) {
            const page: Page<{ id: number }> = await paginator.paginate(
              doubles.selectFrom('doubles').select(['id', 'score']),
              { orderBy: [{ column: 'score', direction }], after, limit },
            )
            seen.push(...page.items.map((item) => item.id))
            after = page.nextCursor
            if (after === null) break
          }
          const sign = direction === 'asc' ? 1 : -1
          const expected = scores
            .map((score, index) => ({ score, id: index + 1 }))
            .sort((a, b) => sign * (a.score - b.score || a.id - b.id))
            .map((row) => row.id)
          expect(seen, `limit ${limit} ${direction}`).toEqual(expected)
        }
      }
    })

    it(`[${testCase.engine}] refuses a big integer key read back as a rounded JS number`, async () => {
      interface Bigs {
        bigs: { id: number; big: string }
      }
      const bigs = db as unknown as Kysely<Bigs>
      await sql`drop table if exists bigs`.execute(db)
      await sql`create table bigs (id integer primary key, big bigint not null)`.execute(db)
      // Past 2^53: each reads as the JS number 9007199254740992 or ...996, not its own value.
      const values = ['9007199254740993', '9007199254740995', '9007199254740997']
      await bigs
        .insertInto('bigs')
        .values(values.map((big, index) => ({ id: index + 1, big })))
        .execute()
      // What a driver reading BIGINT as a number (mysql2 without bigNumberStrings) hands over.
      const double = sql.raw(testCase.engine === 'sqlite' ? 'real' : 'double precision')
      const cast = testCase.engine === 'mysql' ? sql`big + 0e0` : sql`cast(big as ${double})`
      const error = await paginator
        .paginate(bigs.selectFrom('bigs').select(['id', sql<number>`${cast}`.as('approx')]), {
          orderBy: [{ column: 'approx', ref: 'big' }],
          limit: 1,
        })
        .catch((caught: unknown) => caught)
      expect(isMortarError(error) && error.code).toBe('E_PAGINATION_SORT_VALUE')
    })

    it(`[${testCase.engine}] refuses a DECIMAL key read back as a rounded JS number`, async () => {
      interface Amounts {
        amounts: { id: number; amount: string }
      }
      const amounts = db as unknown as Kysely<Amounts>
      await sql`drop table if exists amounts`.execute(db)
      await sql`create table amounts (id integer primary key, amount decimal(30, 10) not null)`.execute(
        db,
      )
      // Past a double's 17 digits: the three are one JS number, not a whole one.
      const values = ['1234567.1234567891', '1234567.1234567892', '1234567.1234567893']
      await amounts
        .insertInto('amounts')
        .values([...values, ...values].map((amount, index) => ({ id: index + 1, amount })))
        .execute()
      // What mysql2's decimalNumbers or a pg type parser hand over: the DECIMAL as a double.
      const double = sql.raw(
        testCase.engine === 'postgres'
          ? 'double precision'
          : testCase.engine === 'mysql'
            ? 'double'
            : 'real',
      )
      const listing = () =>
        amounts
          .selectFrom('amounts')
          .select(['id', sql<number>`cast(amount as ${double})`.as('approx')])
      const seen: number[] = []
      let after: string | null = null
      let error: unknown
      try {
        for (let pages = 0; pages <= 6; pages++) {
          const page: Page<{ id: number }> = await paginator.paginate(listing(), {
            orderBy: [{ column: 'approx', ref: 'amount' }],
            after,
            limit: 2,
          })
          seen.push(...page.items.map((item) => item.id))
          after = page.nextCursor
          if (after === null) break
        }
      } catch (caught) {
        error = caught
      }
      if (testCase.engine === 'sqlite') {
        // SQLite keeps a DECIMAL as a REAL, read exactly: the first two amounts are one double.
        expect(error).toBeUndefined()
        expect(seen).toEqual([1, 2, 4, 5, 3, 6])
      } else {
        expect(isMortarError(error) && error.code, `saw ${seen}`).toBe('E_PAGINATION_SORT_VALUE')
      }
    })

    it(`[${testCase.engine}] refuses a NULL in a key not marked nullable, on the page that holds it or at the end`, async () => {
      // The type refuses the nullable column; an `as never` stands in for a database interface
      // that says NOT NULL where the table does not.
      const listing = () => db.selectFrom('items').select(['id', 'note'])
      for (const direction of ['asc', 'desc'] as const) {
        await fill(db, [
          { note: 'a' },
          { note: null },
          { note: 'b' },
          { note: 'c' },
          { note: null },
        ])
        const request = { orderBy: [{ column: 'note' as never, direction }], limit: 2 }
        let after: string | null = null
        let error: unknown
        const seen: number[] = []
        try {
          do {
            const page: Page<{ id: number }> = await paginator.paginate(listing(), {
              ...request,
              after,
            })
            seen.push(...page.items.map((item) => item.id))
            after = page.nextCursor
          } while (after !== null)
        } catch (caught) {
          error = caught
        }
        // Wherever the engine sorts its NULLs, the walk never ends with rows silently missing.
        expect(isMortarError(error) && error.code, `${direction}: saw ${seen}`).toBe(
          'E_PAGINATION_NULL_SORT_VALUE',
        )
      }
    })
  })
}

describe('Paginator', () => {
  it('refuses a key shorter than 32 bytes without showing it', () => {
    expect(() => new Paginator({ key: 'short-secret' })).toThrow(/at least 32 bytes/)
    expect(() => new Paginator({ key: [KEY, 'short-secret'] })).toThrow(/at least 32 bytes/)
    expect(() => new Paginator({ key: [] })).toThrow(/at least one key/)
    try {
      new Paginator({ key: 'short-secret' })
    } catch (error) {
      expect(String(error)).not.toContain('short-secret')
    }
  })

  it('never shows its key when printed or logged', () => {
    const paginator = new Paginator({ key: KEY })
    expect(`${paginator}`).not.toContain(KEY)
    expect(JSON.stringify({ paginator })).not.toContain(KEY)
  })

  it('rejects a page size that is not a whole number from 1 to 1000', async () => {
    const paginator = new Paginator({ key: KEY })
    const fake = { clearOrderBy: () => fake } as never
    // 1001 and up: a limit passed on from a query string would load a table into memory.
    for (const limit of [0, -1, 1.5, Number.NaN, 1001, 10_000_000, Number.MAX_SAFE_INTEGER]) {
      const error = await rejection(paginator.paginate(fake, { orderBy: [], limit } as never))
      expect(error).toBeInstanceOf(ValidationError)
    }
  })
})
