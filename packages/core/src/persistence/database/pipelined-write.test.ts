import fc from 'fast-check'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { afterCommit } from '../transactions/transaction.js'
import { Database } from './database.js'
import { executePrepared, pipelineWrite } from './pipelined-write.js'

interface TestDb {
  note: { id: number; body: string }
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`pipelineWrite on ${engine.engine}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl
    let database: Database<TestDb>

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
      database = new Database<TestDb>({ url: target.url, pool: 4 })
      await database.connect()
      await database.root.schema
        .createTable('note')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await target?.drop()
    })

    beforeEach(async () => {
      await database.root.deleteFrom('note').execute()
    })

    const trx = () => database.kysely as Kysely<unknown>
    const write = (id: number, body: string) =>
      pipelineWrite(trx(), sql`insert into note (id, body) values (${id}, ${body})`)
    const bodies = async () =>
      (await database.root.selectFrom('note').select(['id', 'body']).orderBy('id').execute()).map(
        (row) => [Number(row.id), row.body],
      )

    it('is seen by the next statement of its transaction, and commits with it', async () => {
      const seen = await database.transaction(async () => {
        await write(1, 'first')
        await write(2, 'second')
        const { rows } = await sql<{ n: number | string }>`select count(*) as n from note`.execute(
          trx(),
        )
        return Number(rows[0]?.n)
      })
      expect(seen).toBe(2)
      expect(await bodies()).toEqual([
        [1, 'first'],
        [2, 'second'],
      ])
    })

    it('rolls back with its transaction, and with the savepoint it was sent in', async () => {
      await expect(
        database.transaction(async () => {
          await write(1, 'rolled back')
          throw new Error('declined')
        }),
      ).rejects.toThrow('declined')
      await database.transaction(async () => {
        await write(2, 'kept')
        await expect(
          database.transaction(
            async () => {
              await write(3, 'in the savepoint')
              throw new Error('part failed')
            },
            { propagation: 'savepoint' },
          ),
        ).rejects.toThrow('part failed')
        await database.transaction(async () => write(4, 'released'), { propagation: 'savepoint' })
      })
      expect(await bodies()).toEqual([
        [2, 'kept'],
        [4, 'released'],
      ])
    })

    it('fails its transaction with its own error when the server refuses it: nothing commits', async () => {
      const ran: string[] = []
      await database.root.insertInto('note').values({ id: 1, body: 'taken' }).execute()
      await expect(
        database.transaction(async () => {
          await database.kysely.insertInto('note').values({ id: 2, body: 'beside' }).execute()
          // The duplicate key is found by the server, after this call returned.
          await write(1, 'duplicate')
          await afterCommit(() => ran.push('after commit'))
        }),
      ).rejects.toThrow(/duplicate|unique/i)
      expect(await bodies()).toEqual([[1, 'taken']])
      expect(ran).toEqual([])
      // The connection is sound afterwards.
      await database.transaction(async () => write(3, 'next'))
      expect(await bodies()).toEqual([
        [1, 'taken'],
        [3, 'next'],
      ])
    })

    it('fails the next statement of its transaction with its own error', async () => {
      await database.root.insertInto('note').values({ id: 1, body: 'taken' }).execute()
      await expect(
        database.transaction(async () => {
          await write(1, 'duplicate')
          await database.kysely.selectFrom('note').selectAll().execute()
        }),
      ).rejects.toThrow(/duplicate|unique/i)
      expect(await bodies()).toEqual([[1, 'taken']])
    })

    if (engine.engine === 'postgres') {
      it('returns on PostgreSQL before the server answered: the failure comes with the COMMIT', async () => {
        await database.root.insertInto('note').values({ id: 1, body: 'taken' }).execute()
        let returned = false
        await expect(
          database.transaction(async () => {
            await write(1, 'duplicate')
            returned = true
          }),
        ).rejects.toThrow(/duplicate/i)
        expect(returned).toBe(true)
      })
    }

    if (engine.engine === 'postgres') {
      it('is prepared once per connection on PostgreSQL, and parsed again after the server refused it', async () => {
        const named = await database.transaction(async () => {
          await write(1, 'a')
          await write(2, 'b')
          const { rows } = await sql<{
            statement: string
          }>`select statement from pg_prepared_statements`.execute(trx())
          return rows.filter((row) => row.statement.startsWith('insert into note'))
        })
        expect(named).toHaveLength(1)
        const later = (id: number) =>
          pipelineWrite(trx(), sql`insert into later_note (id) values (${id})`)
        await expect(database.transaction(async () => later(1))).rejects.toThrow(/later_note/)
        await database.root.schema
          .createTable('later_note')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .execute()
        // Every connection of the pool, the one that failed to parse it among them.
        await Promise.all(
          [1, 2, 3, 4, 5, 6].map((id) => database.transaction(async () => later(id + 1))),
        )
        const { rows } = await sql<{
          n: number | string
        }>`select count(*) as n from later_note`.execute(database.root)
        expect(Number(rows[0]?.n)).toBe(6)
      })
    }

    if (engine.engine === 'postgres') {
      it('goes with the COMMIT behind it, once prepared, as one unit the server answers once, and fails it when refused', async () => {
        const { default: pg } = await import('pg')
        const single = new Database<TestDb>({ url: target.url, pool: 1 })
        const onlyWrite = (id: number, body: string) =>
          single.transaction(async () =>
            pipelineWrite(
              single.kysely as Kysely<unknown>,
              sql`insert into note (id, body) values (${id}, ${body})`,
            ),
          )
        const answers = vi.spyOn(pg.Connection.prototype, 'emit')
        try {
          await onlyWrite(1, 'prepares the statement')
          answers.mockClear()
          await onlyWrite(2, 'with the commit')
          // BEGIN, then the write and the COMMIT together: three before they were joined.
          expect(answers.mock.calls.filter(([event]) => event === 'readyForQuery')).toHaveLength(2)
          await expect(onlyWrite(2, 'duplicate')).rejects.toThrow(/duplicate/i)
          await expect(
            single.transaction(async () => {
              await single.kysely.insertInto('note').values({ id: 3, body: 'beside' }).execute()
              await pipelineWrite(
                single.kysely as Kysely<unknown>,
                sql`insert into note (id, body) values (${1}, ${'duplicate'})`,
              )
            }),
          ).rejects.toThrow(/duplicate/i)
          await onlyWrite(4, 'the connection is sound')
          expect(await bodies()).toEqual([
            [1, 'prepares the statement'],
            [2, 'with the commit'],
            [4, 'the connection is sound'],
          ])
        } finally {
          answers.mockRestore()
          await single.destroy()
        }
      })
    }

    it('stores any text exactly, its values bound as parameters', async () => {
      const hostile = [
        "'); drop table note; --",
        "\\'; select 1; --",
        'E\'\\x00\' $1 $$ $tag$ "quoted" \\\\',
        '😀 \u2028 \u0001',
      ]
      let id = 0
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.constantFrom(...hostile),
            fc.string({ maxLength: 40 }),
            fc.string({
              unit: fc.constantFrom("'", '\\', '"', '$', '1', ';', '-', '/', '*', 'E', ' ', '\n'),
              maxLength: 40,
            }),
          ),
          async (raw) => {
            // PostgreSQL text holds no NUL character, however it is sent.
            const body = raw.replaceAll('\u0000', '')
            id += 1
            await database.transaction(async () => write(id, body))
            const row = await database.root
              .selectFrom('note')
              .select('body')
              .where('id', '=', id)
              .executeTakeFirstOrThrow()
            expect(row.body).toBe(body)
          },
        ),
        { numRuns: 60 },
      )
    })

    it('runs a query through executePrepared with the rows it reads', async () => {
      await database.root
        .insertInto('note')
        .values([
          { id: 1, body: 'a' },
          { id: 2, body: 'b' },
          { id: 3, body: 'c' },
        ])
        .execute()
      const read = (ids: number[]) =>
        executePrepared(
          database.root as Kysely<unknown>,
          sql<{ body: string }>`select body from note where id in (${sql.join(ids)}) order by id`,
        )
      expect((await read([1, 3])).rows.map((row) => row.body)).toEqual(['a', 'c'])
      expect((await read([2, 3])).rows.map((row) => row.body)).toEqual(['b', 'c'])
    })

    // Prepared statements are PostgreSQL's: the test exists only there.
    if (engine.engine === 'postgres') {
      it('prepares a query once per connection, named after its text', async () => {
        const text = 'select body from note where id = any($1::integer[]) order by id'
        const prepared = await database.root.connection().execute(async (connection) => {
          const db = connection as Kysely<unknown>
          for (const ids of [[1], [2, 3]]) {
            await executePrepared(
              db,
              sql`select body from note where id = any(${ids}::integer[]) order by id`,
            )
          }
          const { rows } = await sql<{ name: string; statement: string }>`select name, statement
            from pg_prepared_statements`.execute(db)
          return rows
        })
        expect(prepared.filter((row) => row.statement === text)).toEqual([
          { name: expect.stringMatching(/^mortar_statement_\d+$/), statement: text },
        ])
      })
    }
  })
}
