import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../app/create-app.js'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import {
  testEngines,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
} from '../../testing/test-databases.js'
import { afterCommit, transaction } from '../transactions/transaction.js'
import { DATABASE, databaseToken, resolveDatabase } from './database-tokens.js'
import { DatabaseError } from './database-error.js'

interface ShopDb {
  product: { id: number; name: string }
}

const SHOP_DB = databaseToken<ShopDb>()
const logger = createLogger({ level: 'silent' })

const shop = defineModule({
  name: 'shop',
  register() {},
  migrations: {
    '0001_create_products': {
      async up(db) {
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
})

const catalog = defineModule({
  name: 'catalog',
  register() {},
  migrations: {
    '0001_seed': {
      async up(db) {
        await db.insertInto('product').values({ id: 1, name: 'Tea' }).execute()
      },
      async down(db) {
        await db.deleteFrom('product').execute()
      },
    },
  },
})

describe('createApp with a database', () => {
  it('fails start with the DatabaseError of a bad URL, password kept out', async () => {
    const app = createApp({
      modules: [],
      logger,
      database: 'postgres://app:hunter2@127.0.0.1:1/db',
    })
    const failure = await app.start().catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(DatabaseError)
    expect((failure as DatabaseError).code).toBe('E_DATABASE_UNREACHABLE')
    expect(String((failure as Error).stack)).not.toContain('hunter2')
    expect(app.state).toBe('stopped')
  })

  it('reports an empty health when the app has no database', async () => {
    const app = createApp({ modules: [], logger })
    expect(await app.health()).toEqual({ status: 'ok', checks: {} })
    await expect(app.migrate()).rejects.toThrow(/needs a database/)
  })
})

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`an app on ${engine.engine}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
    })

    afterAll(async () => {
      await target?.drop()
    })

    it(`logs pending migrations at start on ${engine.engine}, and refuses them in production until the app migrates itself`, async () => {
      const pendingTarget = await privateDatabaseUrl(engine)
      const warnings: { fields: unknown; message: string | undefined }[] = []
      const watching = {
        ...logger,
        warn: (fields: object | string, message?: string) =>
          void warnings.push(
            typeof fields === 'string' ? { fields: {}, message: fields } : { fields, message },
          ),
        child: () => watching,
      } as typeof logger
      const environment = process.env.NODE_ENV
      try {
        const development = createApp({
          modules: [shop, catalog],
          logger: watching,
          database: pendingTarget.url,
        })
        await development.start()
        await development.stop()
        const pending = ['shop/0001_create_products', 'catalog/0001_seed']
        expect(warnings).toEqual([
          {
            fields: { pending },
            message: expect.stringContaining(
              `2 migrations are not applied (${pending.join(', ')})`,
            ),
          },
        ])

        // Production, and whatever is not development or a test: a deployment that forgot
        // NODE_ENV gets production's refusal.
        for (const setting of ['production', 'staging', undefined]) {
          if (setting === undefined) delete process.env.NODE_ENV
          else process.env.NODE_ENV = setting
          const refused = createApp({
            modules: [shop, catalog],
            logger,
            database: pendingTarget.url,
          })
          await expect(refused.start()).rejects.toMatchObject({
            code: 'E_MIGRATIONS_PENDING',
            details: { pending },
            message: expect.stringContaining('app.migrate()'),
          })
          expect(refused.state).toBe('stopped')
        }

        const migrating = createApp({
          modules: [shop, catalog],
          logger,
          database: pendingTarget.url,
        })
        await migrating.migrate()
        await migrating.start()
        expect(migrating.state).toBe('started')
        await migrating.stop()
      } finally {
        if (environment === undefined) delete process.env.NODE_ENV
        else process.env.NODE_ENV = environment
        await pendingTarget.drop()
      }
    })

    it(`migrates from two apps at once on ${engine.engine}, each migration once, in module order`, async () => {
      const first = createApp({ modules: [shop, catalog], logger, database: target.url })
      const second = createApp({ modules: [shop, catalog], logger, database: target.url })
      const [a, b] = await Promise.all([first.migrate(), second.migrate()])
      expect([...a.ran, ...b.ran]).toEqual(['shop/0001_create_products', 'catalog/0001_seed'])
      expect((await first.migrate()).ran).toEqual([])
      const status = await second.migrationStatus()
      expect(status.map((entry) => entry.name)).toEqual([
        'shop/0001_create_products',
        'catalog/0001_seed',
      ])
      await Promise.all([first.stop(), second.stop()])
    })

    it(`binds a transaction-aware Kysely, reports health and closes the pool on stop on ${engine.engine}`, async () => {
      const app = createApp({
        modules: [shop, catalog],
        logger,
        database: { url: target.url, pool: 2 },
      })
      await app.start()
      const db: Kysely<ShopDb> = app.resolve(SHOP_DB)
      expect(resolveDatabase<ShopDb>(app)).toBe(db)
      const committed: string[] = []
      await transaction(async () => {
        await db.insertInto('product').values({ id: 2, name: 'Coffee' }).execute()
        await afterCommit(() => {
          committed.push('coffee')
        })
      })
      expect(committed).toEqual(['coffee'])
      const names = await db.selectFrom('product').select('name').orderBy('id').execute()
      expect(names.map((row) => row.name)).toEqual(['Tea', 'Coffee'])
      const health = await app.health()
      expect(health.status).toBe('ok')
      expect(health.checks.database?.status).toBe('ok')
      const database = app.resolve(DATABASE)
      await app.stop()
      expect((await database.health()).status).toBe('error')
    })
  })
}
