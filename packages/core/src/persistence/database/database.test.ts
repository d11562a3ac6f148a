import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import fc from 'fast-check'
import {
  CamelCasePlugin,
  IdentifierNode,
  type Kysely,
  type KyselyPlugin,
  OperationNodeTransformer,
  type SchemableIdentifierNode,
  sql,
  WithSchemaPlugin,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { testEngines, privateDatabaseUrl } from '../../testing/test-databases.js'
import { Database } from './database.js'
import { DatabaseError } from './database-error.js'
import { parseDatabaseUrl } from './database-url.js'

const PASSWORD = 's3cr3t-Pa55word'

/** Everything an error exposes: message, stack and the whole cause chain. */
function exposed(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  while (current instanceof Error) {
    parts.push(current.message, current.stack ?? '', JSON.stringify(current))
    if (current instanceof AggregateError)
      parts.push(...current.errors.map((inner) => exposed(inner)))
    current = current.cause
  }
  return parts.join('\n')
}

async function startFailure(url: string): Promise<DatabaseError> {
  const database = new Database(url)
  try {
    await database.connect()
  } catch (error) {
    expect(error).toBeInstanceOf(DatabaseError)
    return error as DatabaseError
  } finally {
    await database.destroy()
  }
  throw new Error('connect() should have failed')
}

describe('parseDatabaseUrl', () => {
  it('reads the engine, host, database and pool size, and hides the password when displayed', () => {
    const parsed = parseDatabaseUrl(`postgres://app:${PASSWORD}@db.internal:5433/shop?pool=20`)
    expect(parsed).toMatchObject({
      engine: 'postgres',
      host: 'db.internal',
      port: 5433,
      database: 'shop',
      pool: 20,
    })
    expect(parsed.display).toBe('postgres://app:***@db.internal:5433/shop')
    expect(parsed.connectionUrl).not.toContain('pool=')
  })

  it('lets the options object override the pool size of the URL', () => {
    expect(parseDatabaseUrl({ url: 'mysql://root@localhost/app?pool=3', pool: 7 }).pool).toBe(7)
    expect(parseDatabaseUrl('mariadb://root@localhost/app').engine).toBe('mysql')
  })

  it('reads sqlite file and memory URLs', () => {
    expect(parseDatabaseUrl('sqlite:./var/app.db')).toMatchObject({
      engine: 'sqlite',
      filename: './var/app.db',
    })
    expect(parseDatabaseUrl('sqlite::memory:')).toMatchObject({
      engine: 'sqlite',
      filename: ':memory:',
    })
    expect(parseDatabaseUrl('sqlite:///srv/app.db').filename).toBe('/srv/app.db')
  })

  it('rejects a pool size that is not a whole number', () => {
    expect(() => parseDatabaseUrl('postgres://h/db?pool=lots')).toThrow(/pool size/)
  })

  it('refuses a MySQL URL that names no database', () => {
    for (const url of [
      'mysql://root@127.0.0.1:3306',
      'mysql://root@127.0.0.1:3306/',
      'mariadb://h',
    ]) {
      expect(() => parseDatabaseUrl(url), url).toThrow(
        expect.objectContaining({
          code: 'E_DATABASE_URL',
          message: expect.stringMatching(/no database/),
        }),
      )
    }
  })

  it('refuses every URL parameter the driver would not honour, naming it and never its value', () => {
    const cases: [string, string][] = [
      [`postgres://app:${PASSWORD}@h/db?sslmode=require&poolSize=5`, 'poolSize'],
      [`postgres://h/db?connect_timeout=5`, 'connect_timeout'],
      [`postgres://h/db?password=${PASSWORD}`, 'password'],
      [`mysql://h/db?connectTimeout=1`, 'connectTimeout'],
      [`mysql://h/db?bigNumberStrings=false`, 'bigNumberStrings'],
      // Mortar reads and writes every date in UTC (time-zone.test.ts).
      [`mysql://h/db?timezone=local`, 'timezone'],
      [`mysql://h/db?rowsAsArray=true`, 'rowsAsArray'],
      ['sqlite:./var/app.db?cache=shared', 'cache'],
      ['sqlite:./var/app.db?mode=ro&immutable=1', 'immutable'],
    ]
    for (const [url, name] of cases) {
      let error: unknown
      try {
        parseDatabaseUrl(url)
      } catch (caught) {
        error = caught
      }
      expect(error, url).toBeInstanceOf(DatabaseError)
      expect((error as DatabaseError).code).toBe('E_DATABASE_URL')
      expect((error as DatabaseError).message).toContain(`'${name}'`)
      expect(exposed(error)).not.toContain(PASSWORD)
    }
  })

  it('refuses a connection encoding that would lose or garble text, and takes UTF-8 in any spelling', () => {
    const refused = (url: string) => {
      try {
        parseDatabaseUrl(url)
        return undefined
      } catch (error) {
        return (error as DatabaseError).code
      }
    }
    // mysql2 writes what its charset lacks as '?'; pg decodes with the encoding it is given.
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((name) => !/^utf8mb4(_|$)/i.test(name)),
        fc.string({ minLength: 1 }).filter((name) => !/^utf-?8$/i.test(name)),
        (charset, encoding) => {
          expect(refused(`mysql://h/db?charset=${encodeURIComponent(charset)}`)).toBe(
            'E_DATABASE_URL',
          )
          expect(refused(`postgres://h/db?client_encoding=${encodeURIComponent(encoding)}`)).toBe(
            'E_DATABASE_URL',
          )
          const options = encodeURIComponent(`-c search_path=a -c client_encoding=${encoding}`)
          expect(refused(`postgres://h/db?options=${options}`)).toBe('E_DATABASE_URL')
        },
      ),
    )
    for (const url of [
      'mysql://h/db?charset=latin1',
      'mysql://h/db?charset=utf8',
      'mysql://h/db?charset=UTF8_GENERAL_CI',
      'postgres://h/db?options=--client-encoding%3DLATIN1',
    ]) {
      expect(refused(url), url).toBe('E_DATABASE_URL')
    }
    for (const url of [
      'mysql://h/db?charset=utf8mb4',
      'mysql://h/db?charset=UTF8MB4_UNICODE_CI',
      'postgres://h/db?client_encoding=utf8',
      'postgres://h/db?options=-c%20client_encoding%3DUTF8',
      'postgres://h/db?options=-c%20search_path%3Dshop',
    ]) {
      expect(refused(url), url).toBeUndefined()
    }
  })

  it('shows no parameter value that may be secret (an ssl key, its passphrase) when displayed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ssl', 'sslkey', 'sslcert', 'sslrootcert', 'options', 'socketPath'),
        fc.stringMatching(/^[A-Za-z0-9{}":,._/ -]{1,40}$/).map((value) => `Q${value}`),
        (name, value) => {
          const [engine, shown] = ['ssl', 'socketPath'].includes(name)
            ? ['mysql', 'charset=utf8mb4']
            : ['postgres', 'application_name=shop']
          const parsed = parseDatabaseUrl(
            `${engine}://app:pw@db/shop?${shown}&${name}=${encodeURIComponent(value)}`,
          )
          expect(decodeURIComponent(parsed.display)).not.toContain(value)
          expect(parsed.display).toContain(shown)
          expect(parsed.display).toContain(`${name}=***`)
        },
      ),
    )
  })

  it('accepts the parameters each driver honours', () => {
    expect(
      parseDatabaseUrl('postgres://h/db?sslmode=disable&application_name=shop&options=-c%20x=1')
        .connectionUrl,
    ).toContain('application_name=shop')
    expect(
      parseDatabaseUrl('mysql://h/db?charset=utf8mb4&dateStrings=true').connectionUrl,
    ).toContain('charset=utf8mb4')
    expect(parseDatabaseUrl('sqlite:./var/app.db?mode=ro')).toMatchObject({
      filename: './var/app.db',
      sqliteMode: 'ro',
      display: 'sqlite:./var/app.db?mode=ro',
    })
  })

  it('refuses a SQLite mode it does not know, and a mode on an in-memory database', () => {
    expect(() => parseDatabaseUrl('sqlite:./var/app.db?mode=memory')).toThrow(/mode must be/)
    expect(() => parseDatabaseUrl('sqlite::memory:?mode=ro')).toThrow(/in-memory/)
  })
})

describe('Database with a bad URL', () => {
  it('fails to connect with E_DATABASE_URL for an unknown scheme, without the password', async () => {
    const error = await startFailure(`oracle://scott:${PASSWORD}@127.0.0.1:1521/orcl`)
    expect(error.code).toBe('E_DATABASE_URL')
    expect(error.message).toMatch(/oracle:/)
    expect(exposed(error)).not.toContain(PASSWORD)
  })

  it('fails to connect with E_DATABASE_URL for a malformed URL, without the password', async () => {
    const error = await startFailure(`postgres://app:${PASSWORD}@127.0.0.1:notaport/db`)
    expect(error.code).toBe('E_DATABASE_URL')
    expect(error.message).toMatch(/malformed/)
    expect(exposed(error)).not.toContain(PASSWORD)
  })

  it('fails to connect with E_DATABASE_URL when no URL is given', async () => {
    const error = await startFailure('')
    expect(error.code).toBe('E_DATABASE_URL')
    expect(error.message).toMatch(/DATABASE_URL/)
  })

  it('fails with E_DATABASE_CONNECT naming the file when SQLite cannot create it', async () => {
    // A plain file where the parent directory should be: the directory cannot be made.
    const dir = mkdtempSync(join(tmpdir(), 'mortar-bad-'))
    const notADirectory = join(dir, 'file')
    writeFileSync(notADirectory, '')
    try {
      const error = await startFailure(`sqlite:${notADirectory}/app.db`)
      expect(error.code).toBe('E_DATABASE_CONNECT')
      expect(error.message).toContain(`${notADirectory}/app.db`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const scheme of ['postgres', 'mysql'] as const) {
    it(`fails with E_DATABASE_UNREACHABLE naming the host when no ${scheme} server listens, without the password`, async () => {
      // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
      const error = await startFailure(`${scheme}://app:${PASSWORD}@127.0.0.1:1/app`)
      expect(error.code).toBe('E_DATABASE_UNREACHABLE')
      expect(error.status).toBe(503)
      expect(error.message).toContain('127.0.0.1:1')
      expect(exposed(error)).not.toContain(PASSWORD)
      expect(error.cause).toBeInstanceOf(Error)
    })
  }
})

describe('Database on SQLite', () => {
  it('creates the parent directory of the file and turns on WAL and foreign keys', async () => {
    const target = await privateDatabaseUrl({ engine: 'sqlite' })
    const database = new Database(target.url)
    try {
      await database.connect()
      expect(existsSync(dirname(parseDatabaseUrl(target.url).filename))).toBe(true)
      const raw = database.root
      const { sql } = await import('kysely')
      const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(raw)
      expect(journal.rows[0]?.journal_mode).toBe('wal')
      const keys = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(raw)
      expect(keys.rows[0]?.foreign_keys).toBe(1)
    } finally {
      await database.destroy()
      await target.drop()
    }
  })

  it('honours ?mode=ro: reads work, every write fails, and nothing is written', async () => {
    const target = await privateDatabaseUrl({ engine: 'sqlite' })
    const { sql } = await import('kysely')
    const writer = new Database(target.url)
    await writer.connect()
    await sql`create table note (id integer primary key)`.execute(writer.root)
    await sql`insert into note values (1)`.execute(writer.root)
    await writer.destroy()
    const reader = new Database(`${target.url}?mode=ro`)
    try {
      await reader.connect()
      const rows = await sql<{ id: number }>`select id from note`.execute(reader.root)
      expect(rows.rows).toEqual([{ id: 1 }])
      await expect(sql`insert into note values (2)`.execute(reader.root)).rejects.toThrow(
        /readonly/,
      )
      await expect(
        reader.transaction(async (trx) => {
          await sql`delete from note`.execute(trx)
        }),
      ).rejects.toThrow(/readonly/)
      const after = await sql<{ n: number }>`select count(*) as n from note`.execute(reader.root)
      expect(after.rows).toEqual([{ n: 1 }])
    } finally {
      await reader.destroy()
      await target.drop()
    }
  })

  it('refuses ?mode=ro and ?mode=rw on a missing file instead of creating it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mortar-ro-'))
    try {
      for (const mode of ['ro', 'rw']) {
        const error = await startFailure(`sqlite:${join(dir, 'missing', 'app.db')}?mode=${mode}`)
        expect(error.code).toBe('E_DATABASE_CONNECT')
        expect(error.message).toMatch(/does not exist/)
      }
      expect(existsSync(join(dir, 'missing'))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses queries after destroy() with a clear error', async () => {
    const database = new Database('sqlite::memory:')
    await database.connect()
    await database.destroy()
    await expect(database.ping()).rejects.toMatchObject({ code: 'E_DATABASE_CONNECT' })
  })

  it('answers a health check with a readable reason when the driver throws an error whose message is no string', async () => {
    const database = new Database('sqlite::memory:')
    await database.connect()
    try {
      // String() of a message without a prototype throws: the reason said that instead.
      const plugin: KyselyPlugin = {
        transformQuery: () => {
          throw Object.assign(new Error(), { message: Object.create(null) })
        },
        transformResult: async (args) => args.result,
      }
      database.addPlugin(plugin)
      expect(await database.health()).toMatchObject({
        status: 'error',
        error: expect.stringContaining(': [object Object]. Check the path'),
      })
    } finally {
      await database.destroy()
    }
  })
})

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`Database on ${engine.engine}`, () => {
    if (engine.skip) console.info(engine.skip)
    it(`connects, answers a health check and closes its pool on ${engine.engine}`, async () => {
      const target = await privateDatabaseUrl(engine)
      const database = new Database(target.url)
      try {
        await database.connect()
        expect(database.engine).toBe(engine.engine)
        expect(await database.health()).toMatchObject({ status: 'ok' })
        await database.destroy()
        expect(await database.health()).toMatchObject({ status: 'error' })
      } finally {
        await database.destroy()
        await target.drop()
      }
    })

    it(`reads back every double it writes on ${engine.engine}`, async () => {
      const target = await privateDatabaseUrl(engine)
      const database = new Database(target.url)
      try {
        const db = database.root
        await sql`create table doubles (n integer primary key, value double precision)`.execute(db)
        // Values mysql2 read as another number (the first as 1000000000000000), then any others.
        const values = [999999999999999.9, 92.10345221286893, 9.228850771858067]
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 50 }),
            async (drawn) => {
              const written = [...values, ...drawn].map((value) =>
                Object.is(value, -0) ? 0 : value,
              )
              await sql`delete from doubles`.execute(db)
              for (const [n, value] of written.entries())
                await sql`insert into doubles (n, value) values (${n}, ${value})`.execute(db)
              const read = await sql<{
                value: number
              }>`select value from doubles order by n`.execute(db)
              expect(read.rows.map((row) => row.value)).toEqual(written)
            },
          ),
          { numRuns: 20 },
        )
      } finally {
        await database.destroy()
        await target.drop()
      }
    })

    if (engine.engine === 'postgres') {
      it('reads doubles exactly whatever extra_float_digits the server or role sets', async () => {
        const target = await privateDatabaseUrl(engine)
        // As a server, database or role set to 0 would: doubles written with 15 digits.
        const url = new URL(target.url)
        url.searchParams.set(
          'options',
          `${url.searchParams.get('options')} -c extra_float_digits=0`,
        )
        const database = new Database(`${url.href}&pool=2`)
        const read = async (db: Kysely<unknown>) =>
          (
            await sql<{
              value: number
            }>`select cast(${String(Math.PI)} as double precision) as value`.execute(db)
          ).rows[0]?.value
        try {
          const values = await Promise.all(
            Array.from({ length: 6 }, (_, n) => read(n % 2 ? database.root : database.background)),
          )
          expect(values).toEqual(Array(6).fill(Math.PI))
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    }

    if (engine.engine === 'mysql') {
      it('makes every session of both pools strict, whatever the server sql_mode, so no text is cut', async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database(`${target.url}?pool=2`)
        const mode = async (db: Kysely<unknown>) =>
          (await sql<{ mode: string }>`select @@session.sql_mode as mode`.execute(db)).rows[0]
            ?.mode ?? ''
        try {
          // More statements at once than the pool has connections: each new one is set up.
          const modes = await Promise.all(
            Array.from({ length: 6 }, (_, n) => mode(n % 2 ? database.root : database.background)),
          )
          for (const each of modes) expect(each.split(',')).toContain('STRICT_ALL_TABLES')
        } finally {
          await database.destroy()
          await target.drop()
        }
      })

      it('runs background work read committed on a pool of its own, and the app at the server default', async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database(`${target.url}?pool=2`)
        const level = async (db: Kysely<unknown>) =>
          (await sql<{ level: string }>`select @@tx_isolation as level`.execute(db)).rows[0]?.level
        try {
          // More statements at once than the pool has connections: each new one is set up.
          const levels = await Promise.all(
            Array.from({ length: 6 }, () => level(database.background)),
          )
          expect(new Set(levels)).toEqual(new Set(['READ-COMMITTED']))
          expect(await level(database.root)).toBe('REPEATABLE-READ')
          await database.transaction(async () => {
            expect(await level(database.kysely)).toBe('REPEATABLE-READ')
          })
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    } else {
      it(`runs background work on the app's pool on ${engine.engine}`, async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database(target.url)
        try {
          expect(database.background).toBe(database.root)
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    }
  })
}

describe('Database plugins', () => {
  it('runs a plugin added before or after connecting on every query, in transactions too', async () => {
    const { sql } = await import('kysely')
    const seen: string[][] = []
    const recorder = (name: string): KyselyPlugin => ({
      transformQuery: (args) => {
        if (args.node.kind === 'SelectQueryNode') seen.push([name, args.node.kind])
        return args.node
      },
      transformResult: async (args) => args.result,
    })
    const database = new Database<{ trip: { id: number } }>('sqlite::memory:')
    database.addPlugin(recorder('early'))
    try {
      await database.connect()
      await sql`create table trip (id integer primary key)`.execute(database.root)
      database.addPlugin(recorder('late'))
      await database.kysely.selectFrom('trip').selectAll().execute()
      await database.transaction(async () => {
        await database.kysely.selectFrom('trip').selectAll().execute()
      })
      expect(seen).toEqual([
        ['early', 'SelectQueryNode'],
        ['late', 'SelectQueryNode'],
        ['early', 'SelectQueryNode'],
        ['late', 'SelectQueryNode'],
      ])
    } finally {
      await database.destroy()
    }
  })
})

// Puts every table of a built query in `schema`, as WithSchemaPlugin does, written by an app.
function tenantSchema(schema: string): KyselyPlugin {
  const transformer = new (class extends OperationNodeTransformer {
    protected override transformSchemableIdentifier(
      node: SchemableIdentifierNode,
    ): SchemableIdentifierNode {
      return node.schema ? node : { ...node, schema: IdentifierNode.create(schema) }
    }
  })()
  return {
    transformQuery: (args) => transformer.transformNode(args.node, args.queryId),
    transformResult: async (args) => args.result,
  }
}

describe('Database schema plugins', () => {
  it('refuses every plugin that puts tables in a schema, since raw SQL would not follow it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), async (schema) => {
        const database = new Database('sqlite::memory:')
        try {
          for (const plugin of [new WithSchemaPlugin(schema), tenantSchema(schema)]) {
            const refused = (() => {
              try {
                database.addPlugin(plugin)
              } catch (error) {
                return error
              }
            })()
            expect(refused).toBeInstanceOf(DatabaseError)
            expect(refused).toMatchObject({ code: 'E_DATABASE_PLUGIN' })
            expect((refused as Error).message).toContain('search_path')
          }
          // Refused means not added: queries still run on the connection's own schema.
          await database.connect()
          await sql`create table trip (id integer primary key)`.execute(database.root)
          await database.kysely
            .insertInto('trip' as never)
            .values({ id: 1 } as never)
            .execute()
          const { rows } = await sql<{ id: number }>`select id from trip`.execute(database.root)
          expect(rows).toEqual([{ id: 1 }])
        } finally {
          await database.destroy()
        }
      }),
      { numRuns: 20 },
    )
  })

  it('takes plugins that name no schema, and one that cannot take a probe query', () => {
    const database = new Database('sqlite::memory:')
    const picky: KyselyPlugin = {
      transformQuery: () => {
        throw new Error('not this query')
      },
      transformResult: async (args) => args.result,
    }
    expect(() => database.addPlugin(new CamelCasePlugin())).not.toThrow()
    expect(() => database.addPlugin(picky)).not.toThrow()
  })

  for (const engine of testEngines().filter((each) => each.engine === 'postgres')) {
    describe.skipIf(engine.skip !== undefined)(`on ${engine.title}`, () => {
      it('runs raw and built statements alike in the schema the URL names, never in public', async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database<{ fare: { id: number; cents: number } }>(target.url)
        try {
          await database.connect()
          expect(() => database.addPlugin(new WithSchemaPlugin('public'))).toThrow(DatabaseError)
          await sql`create table fare (id integer primary key, cents integer not null)`.execute(
            database.root,
          )
          await database.kysely.insertInto('fare').values({ id: 1, cents: 250 }).execute()
          await sql`insert into fare (id, cents) values (2, 300)`.execute(database.root)
          const schema = new URL(target.url).searchParams.get('options')?.split('=')[1] ?? ''
          expect(schema).toMatch(/^mortar_test_/)
          const { rows } = await sql<{
            id: number
          }>`select id from ${sql.table(`${schema}.fare`)} order by id`.execute(database.root)
          expect(rows).toEqual([{ id: 1 }, { id: 2 }])
          const built = await database.kysely
            .selectFrom('fare')
            .select('id')
            .orderBy('id')
            .execute()
          expect(built).toEqual(rows)
          const { rows: inPublic } = await sql<{
            found: string | null
          }>`select to_regclass('public.fare')::text as found`.execute(database.root)
          expect(inPublic).toEqual([{ found: null }])
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    })
  }
})
