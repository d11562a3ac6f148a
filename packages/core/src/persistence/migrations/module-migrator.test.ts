import type { Generated, Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Database, DatabaseError } from '../database/index.js'
import {
  testEngines,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
} from '../../testing/test-databases.js'
import type { Migration, MigrationSource } from './migration.js'
import { ModuleMigrator } from './module-migrator.js'

// 'shop' comes before 'auth' on purpose: module order, not alphabetical order, decides.
function sources(log: string[] = []): MigrationSource[] {
  return [
    {
      module: 'shop',
      migrations: {
        '0002_seed_products': {
          async up(db) {
            log.push('shop/0002')
            await db.insertInto('product').values({ id: 1, name: 'Tea' }).execute()
          },
          async down(db) {
            await db.deleteFrom('product').execute()
          },
        },
        '0001_create_products': {
          async up(db) {
            log.push('shop/0001')
            await db.schema
              .createTable('product')
              .addColumn('id', 'integer', (c) => c.primaryKey())
              .addColumn('name', 'varchar(100)', (c) => c.notNull())
              .execute()
          },
          async down(db) {
            await db.schema.dropTable('product').execute()
          },
        },
      },
    },
    {
      module: 'auth',
      migrations: {
        '0001_create_users': {
          async up(db) {
            log.push('auth/0001')
            await db.schema
              .createTable('app_user')
              .addColumn('id', 'integer', (c) => c.primaryKey())
              // Depends on shop's table: fails if auth ran first.
              .addColumn('favourite_product', 'integer', (c) => c.references('product.id'))
              .execute()
          },
          async down(db) {
            await db.schema.dropTable('app_user').execute()
          },
        },
      },
    },
  ]
}

const ALL = ['shop/0001_create_products', 'shop/0002_seed_products', 'auth/0001_create_users']

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`module migrations on ${engine.engine}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl
    let first: Database
    let second: Database

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
      first = new Database(target.url)
      second = new Database(target.url)
    })

    afterAll(async () => {
      await first?.destroy()
      await second?.destroy()
      await target?.drop()
    })

    it(`applies each migration once when two instances migrate a fresh ${engine.engine} database at once`, async () => {
      const logA: string[] = []
      const logB: string[] = []
      const [a, b] = await Promise.all([
        new ModuleMigrator({ db: first.root, sources: sources(logA) }).up(),
        new ModuleMigrator({ db: second.root, sources: sources(logB) }).up(),
      ])
      // One of them did all the work in module order, the other found nothing pending.
      const ran = [...a.ran, ...b.ran]
      expect(ran).toEqual(ALL)
      expect([...logA, ...logB]).toEqual(['shop/0001', 'shop/0002', 'auth/0001'])
      const products = await first.root
        .selectFrom('product' as never)
        .selectAll()
        .execute()
      expect(products).toHaveLength(1)
    })

    it(`does nothing when migrating an up-to-date ${engine.engine} database again`, async () => {
      const log: string[] = []
      const report = await new ModuleMigrator({ db: first.root, sources: sources(log) }).up()
      expect(report).toEqual({ direction: 'up', ran: [] })
      expect(log).toEqual([])
    })

    it(`lists every migration with its state on ${engine.engine}`, async () => {
      const status = await new ModuleMigrator({ db: first.root, sources: sources() }).status()
      expect(status.map((entry) => entry.name)).toEqual(ALL)
      expect(status.every((entry) => typeof entry.appliedAt === 'string')).toBe(true)
    })

    it(`reverts the newest migrations first and re-applies them on ${engine.engine}`, async () => {
      const migrator = new ModuleMigrator({ db: first.root, sources: sources() })
      const down = await migrator.down({ steps: 2 })
      expect(down).toEqual({
        direction: 'down',
        ran: ['auth/0001_create_users', 'shop/0002_seed_products'],
      })
      const status = await migrator.status()
      expect(
        status.filter((entry) => entry.appliedAt === undefined).map((entry) => entry.name),
      ).toEqual(['shop/0002_seed_products', 'auth/0001_create_users'])
      const up = await migrator.up()
      expect(up.ran).toEqual(['shop/0002_seed_products', 'auth/0001_create_users'])
    })

    it(`refuses an applied migration renamed in the code on ${engine.engine}, naming both names, and runs nothing`, async () => {
      const log: string[] = []
      const renamed = sources(log).map((source) => {
        if (source.module !== 'shop') return source
        const { '0002_seed_products': seed, ...rest } = source.migrations
        return { ...source, migrations: { ...rest, '0002_seed_tea': seed as Migration } }
      })
      const migrator = new ModuleMigrator({ db: first.root, sources: renamed })
      const failure = await migrator.up().catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(DatabaseError)
      expect(failure).toMatchObject({
        code: 'E_MIGRATION_RENAMED',
        message: expect.stringMatching(
          /'shop\/0002_seed_products' \(applied\) is now 'shop\/0002_seed_tea' \(not applied\)/,
        ),
      })
      expect(log).toEqual([])
      await expect(migrator.pending()).rejects.toMatchObject({ code: 'E_MIGRATION_RENAMED' })
      // A migration added after the applied ones is pending, not a rename.
      const added = sources().map((source) =>
        source.module === 'auth'
          ? { ...source, migrations: { ...source.migrations, '0002_add_email': { async up() {} } } }
          : source,
      )
      expect(await new ModuleMigrator({ db: first.root, sources: added }).pending()).toEqual([
        'auth/0002_add_email',
      ])
    })

    it(`hands each migration the engine it runs on, so the README's portable table works on ${engine.engine}`, async () => {
      const seen: string[] = []
      const portable: MigrationSource = {
        module: 'portable',
        migrations: {
          '0001_create_notes': {
            async up(db, { engine: running }) {
              seen.push(`up:${running}`)
              await db.schema
                .createTable('note')
                .addColumn('id', 'integer', (c) =>
                  running === 'postgres'
                    ? c.primaryKey().generatedByDefaultAsIdentity()
                    : c.primaryKey().autoIncrement(),
                )
                .addColumn('body', 'varchar(200)', (c) => c.notNull())
                .execute()
            },
            async down(db, { engine: running }) {
              seen.push(`down:${running}`)
              await db.schema.dropTable('note').execute()
            },
          },
        },
      }
      const migrator = new ModuleMigrator({ db: first.root, sources: [portable] })
      await migrator.up()
      const db = first.root as unknown as Kysely<{ note: { id: Generated<number>; body: string } }>
      const ids = []
      for (const body of ['first', 'second']) {
        // As the README shows: PostgreSQL has no insertId, MySQL/MariaDB ignore returning().
        const insert = db.insertInto('note').values({ body })
        ids.push(
          engine.engine === 'mysql'
            ? Number((await insert.executeTakeFirstOrThrow()).insertId)
            : (await insert.returning('id').executeTakeFirstOrThrow()).id,
        )
      }
      expect(ids).toEqual([1, 2])
      await migrator.down()
      expect(seen).toEqual([`up:${engine.engine}`, `down:${engine.engine}`])
    })

    it(`refuses a migration name the history cannot hold as written on ${engine.engine}, before anything runs`, async () => {
      // Past 255 characters or with a NUL, PostgreSQL and MariaDB refused the history row after the
      // migration ran (MariaDB kept its change, unrecorded); a lone surrogate was recorded as
      // U+FFFD on every engine, and every later run refused the migration as renamed.
      for (const key of [
        '0001_\uD800',
        '0001_\u0000',
        `0001_${'x'.repeat(255 - 'odd/0001_'.length + 1)}`,
      ]) {
        const ran: string[] = []
        const odd: MigrationSource[] = [
          ...sources(),
          { module: 'odd', migrations: { [key]: { up: async () => void ran.push(key) } } },
        ]
        expect(() => new ModuleMigrator({ db: first.root, sources: odd })).toThrow(
          expect.objectContaining({
            code: 'E_MIGRATION',
            message: expect.stringContaining('Nothing ran'),
          }),
        )
        expect(ran).toEqual([])
      }
      const longest = `0001_${'x'.repeat(255 - 'odd/0001_'.length)}`
      const fits: MigrationSource[] = [
        { module: 'odd', migrations: { [longest]: { up: async () => {}, down: async () => {} } } },
      ]
      const migrator = new ModuleMigrator({ db: first.root, sources: fits })
      expect((await migrator.up()).ran).toEqual([`odd/${longest}`])
      expect(await migrator.pending()).toEqual([])
      await migrator.down()
    })

    it(`reports a failing migration with its name on ${engine.engine} and records nothing for it`, async () => {
      const broken: MigrationSource[] = [
        ...sources(),
        {
          module: 'broken',
          migrations: {
            '0001_bad': {
              async up(db) {
                await db.insertInto('no_such_table').values({ id: 1 }).execute()
              },
            },
          },
        },
      ]
      const migrator = new ModuleMigrator({ db: first.root, sources: broken })
      await expect(migrator.up()).rejects.toMatchObject({
        code: 'E_MIGRATION',
        message: expect.stringContaining('broken/0001_bad'),
      })
      const status = await migrator.status()
      expect(status.find((entry) => entry.name === 'broken/0001_bad')?.appliedAt).toBeUndefined()
    })
  })
}
