import { randomUUID } from 'node:crypto'
import { DATABASE, databaseToken, JOBS } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import {
  DeleteQueryNode,
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  TableNode,
  type UnknownRow,
} from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { DIGEST_BATCH_TABLE, DIGEST_ITEM_TABLE } from '../digest/digest-store.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { commentsDigest, NewComment } from '../test-support/comment-digest.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { DELIVERY_TABLE } from './delivery-table.js'
import { THROTTLE_TABLE } from './throttle-counter.js'

class Promo extends Notification {
  readonly category = 'marketing'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return { subject: 'Sale', text: 'Half off.' }
  }
}

const HOUR = 3_600_000

/** Records the most rows one DELETE statement deleted, by table. */
class DeleteSizes implements KyselyPlugin {
  readonly largest = new Map<string, number>()
  readonly #tables = new WeakMap<object, string>()

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node
    if (DeleteQueryNode.is(node)) {
      const from = node.from.froms[0]
      if (from !== undefined && TableNode.is(from))
        this.#tables.set(args.queryId, from.table.identifier.name)
    }
    return node
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const table = this.#tables.get(args.queryId)
    if (table !== undefined) {
      const rows = Number(args.result.numAffectedRows ?? 0)
      this.largest.set(table, Math.max(this.largest.get(table) ?? 0, rows))
    }
    return args.result
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`deliveries.prune on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp(
        {
          channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox() })],
          categories: { marketing: { throttle: { limit: 5, windowMs: HOUR } } },
          digests: [commentsDigest(30)],
        },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    const rows = async (table: string) => {
      const db = app.resolve(databaseToken()) as Kysely<Record<string, unknown>>
      const [row] = await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).execute()
      return Number(row?.n)
    }

    it('deletes a backlog of every kind by statements of at most 1,000 rows each, and all of it', async () => {
      const db = app.resolve(databaseToken()) as Kysely<Record<string, Record<string, unknown>>>
      const insert = async (table: string, values: Record<string, unknown>[]) => {
        for (let start = 0; start < values.length; start += 200)
          await db
            .insertInto(table)
            .values(values.slice(start, start + 200))
            .execute()
      }
      const old = app.clock.nowMs() - 2 * HOUR
      // More finished deliveries of one status than a batch, and of the others.
      const statuses = ['sent', 'dead', 'suppressed', 'sent']
      await insert(
        DELIVERY_TABLE,
        Array.from({ length: 1_300 }, (_, n) => ({
          id: randomUUID(),
          notification_id: randomUUID(),
          type: 'promo',
          category: 'marketing',
          recipient_id: `r-${n}`,
          channel: 'mail',
          address: null,
          message: '{}',
          status: statuses[n % statuses.length],
          last_error: null,
          run_at: old,
          created_at: old,
          updated_at: old,
          attempts: 1,
          possible_duplicates: 0,
          idempotency_key: null,
        })),
      )
      // More batches that went out than a batch of the prune, and one of more items than that.
      const batches = Array.from({ length: 1_050 }, (_, n) => ({
        id: randomUUID(),
        digest_key: 'comments',
        recipient_id: `r-${n}`,
        open_key: null,
        recipient: JSON.stringify({ id: `r-${n}` }),
        status: 'closed',
        created_at: old,
        closes_at: old,
      }))
      await insert(DIGEST_BATCH_TABLE, batches)
      const item = (batchId: string) => ({
        id: randomUUID(),
        batch_id: batchId,
        item: '{}',
        created_at: old,
      })
      await insert(DIGEST_ITEM_TABLE, [
        ...batches.map((batch) => item(batch.id)),
        ...Array.from({ length: 1_100 }, () => item(batches[0]?.id as string)),
      ])
      const sizes = new DeleteSizes()
      app.resolve(DATABASE).addPlugin(sizes)
      await app.resolve(DELIVERIES).prune(new Date(old + 1))
      // Before, one statement each deleted 1,300 deliveries, 1,050 batches and 2,150 items.
      for (const table of [DELIVERY_TABLE, DIGEST_BATCH_TABLE, DIGEST_ITEM_TABLE]) {
        expect(sizes.largest.get(table), table).toBeGreaterThan(0)
        expect(sizes.largest.get(table), table).toBeLessThanOrEqual(1_000)
      }
      const left = await db
        .selectFrom(DELIVERY_TABLE)
        .select(sql<number>`count(*)`.as('n'))
        .where('updated_at', '<', old + 1)
        .executeTakeFirst()
      expect(Number(left?.n)).toBe(0)
      for (const table of [DIGEST_BATCH_TABLE, DIGEST_ITEM_TABLE]) {
        const rest = await db
          .selectFrom(table)
          .select(sql<number>`count(*)`.as('n'))
          .where('created_at', '<', old + 1)
          .executeTakeFirst()
        expect(Number(rest?.n), table).toBe(0)
      }
    })

    it('refuses a page size or a prune date that would reach the database as garbage', async () => {
      const deliveries = app.resolve(DELIVERIES)
      // NaN reached the driver as the SQL limit; a fraction, 0 or -1 were sent or clamped silently;
      // an invalid date deleted nothing and answered 0.
      for (const limit of [Number.NaN, 1.5, 0, -1, Number.POSITIVE_INFINITY]) {
        await expect(deliveries.list('ada', { limit })).rejects.toMatchObject({
          code: 'E_VALIDATION',
        })
        await expect(deliveries.dead(limit)).rejects.toMatchObject({ code: 'E_VALIDATION' })
      }
      await expect(deliveries.prune(new Date(Number.NaN))).rejects.toMatchObject({
        code: 'E_VALIDATION',
      })
      expect(await deliveries.list('ada', { limit: 1 })).toEqual([])
    })

    it('deletes with the finished deliveries the digest batches that went out and the throttle windows that ended, nothing still in use', async () => {
      const notifier = app.resolve(NOTIFIER)
      const deliveries = app.resolve(DELIVERIES)
      const drain = () => app.resolve(JOBS).drain()
      await notifier.notify({ id: 'dan', email: 'dan@example.com' }, new Promo())
      await notifier.notify({ id: 'frank', email: 'frank@example.com' }, new NewComment('one'))
      await notifier.notify({ id: 'frank', email: 'frank@example.com' }, new NewComment('two'))
      await drain()
      app.clock.advance(30 * 60_000 + 1)
      await drain() // frank's batch closes and goes out as one mail
      await notifier.notify({ id: 'gus', email: 'gus@example.com' }, new NewComment('open'))
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([2, 3])
      expect(await rows(THROTTLE_TABLE)).toBe(1)

      // dan's hour has not ended: its window still counts; gus's batch is open.
      await deliveries.prune(app.clock.now())
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([1, 1])
      expect(await rows(THROTTLE_TABLE)).toBe(1)

      app.clock.advance(HOUR)
      await deliveries.prune(app.clock.now())
      expect(await rows(THROTTLE_TABLE)).toBe(0)
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([1, 1])
    })
  })
}
