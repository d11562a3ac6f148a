import { randomUUID } from 'node:crypto'
import { createLogger, Database, type DatabaseEngine, SystemClock } from '@mortar/core'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import {
  IdentifierNode,
  type Kysely,
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SchemableIdentifierNode,
  sql,
  type UnknownRow,
} from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Channel } from '../channels/channel.js'
import { notifyTestApp } from '../test-support/notify-test-app.js'
import { DeliveryLedger } from './delivery-ledger.js'
import { DELIVERY_TABLE, type DeliveryRow } from './delivery-table.js'

const sms: Channel<'sms'> = {
  name: 'sms',
  idempotent: true,
  route: (recipient) => recipient.id,
  send: async () => ({ status: 'accepted' }),
}

/**
 * Renames the delivery table to a tenant's own, in raw `sql` too (which Kysely's WithSchemaPlugin
 * leaves as written): a plugin that changes the delivery INSERT's text.
 */
class TenantTablePlugin implements KyselyPlugin {
  readonly #transformer: RenameTable

  constructor(table: string) {
    this.#transformer = new RenameTable(table)
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId)
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}

class RenameTable extends OperationNodeTransformer {
  readonly #table: string

  constructor(table: string) {
    super()
    this.#table = table
  }

  protected override transformSchemableIdentifier(
    node: SchemableIdentifierNode,
  ): SchemableIdentifierNode {
    return node.identifier.name === DELIVERY_TABLE
      ? { ...node, identifier: IdentifierNode.create(this.#table) }
      : node
  }
}

/** An empty copy of the delivery table named `name`. */
function copyTable(engine: DatabaseEngine, name: string) {
  const copy = sql.table(name)
  const table = sql.table(DELIVERY_TABLE)
  if (engine === 'postgres') return sql`create table ${copy} (like ${table} including all)`
  if (engine === 'mysql') return sql`create table ${copy} like ${table}`
  return sql`create table ${copy} as select * from ${table} where 0`
}

function delivery(): DeliveryRow {
  return {
    id: randomUUID(),
    notification_id: randomUUID(),
    type: 'ping',
    category: 'ping',
    recipient_id: 'ada',
    channel: 'sms',
    address: null,
    message: '{}',
    status: 'queued',
    last_error: null,
    run_at: 0,
    created_at: 0,
    updated_at: 0,
    attempts: 0,
    possible_duplicates: 0,
    idempotency_key: null,
  } as DeliveryRow
}

for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] the delivery insert per Kysely plugins: ${engine.skip}`)

  describe.skipIf(engine.skip !== undefined)(
    `the delivery insert on two databases of ${engine.engine}`,
    () => {
      let database: PrivateDatabaseUrl
      let root: Database
      const tables = ['a', 'b'].map((tenant) => `${DELIVERY_TABLE}_${tenant}`)

      beforeAll(async () => {
        database = await privateDatabaseUrl(engine)
        const app = notifyTestApp({ channels: [sms] }, database.url)
        await app.migrate()
        await app.stop()
        root = new Database(database.url)
        for (const table of tables) await copyTable(engine.engine, table).execute(root.root)
      })
      afterAll(async () => {
        await root.destroy()
        await database.drop()
      })

      it('writes each database’s rows to the table its plugin names, in and out of transactions', async () => {
        const tenants = tables.map((table) => {
          const tenant = new Database(database.url)
          tenant.addPlugin(new TenantTablePlugin(table))
          const ledger = new DeliveryLedger(tenant, new SystemClock(), {
            jobsInSameDatabase: false,
            logger: createLogger({ level: 'silent' }),
          })
          return { table, tenant, ledger, ids: [] as string[] }
        })
        try {
          for (const inTransaction of [false, true]) {
            for (const { tenant, ledger, ids } of tenants) {
              const rows = [delivery(), delivery()]
              ids.push(...rows.map((row) => row.id))
              if (inTransaction) await tenant.transaction(() => ledger.insert(rows))
              else await ledger.insert(rows)
            }
          }
          for (const { table, ids } of tenants) {
            const { rows } = await sql<{ id: string }>`select id from ${sql.table(table)}`.execute(
              root.root as Kysely<unknown>,
            )
            expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort())
          }
        } finally {
          for (const { tenant } of tenants) await tenant.destroy()
        }
      })
    },
  )
}
