import { Database, ModuleMigrator } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/index.js'
import { notifyModule } from '../module/notify-module.js'
import { DELIVERY_TABLE, type DeliveryRow, type DeliveryStatus } from './delivery-table.js'

const SETTLED = '0010_delivery_settled_tokens'

/** The notify module's migrations, and those before 0010 (what older code ran). */
function migrations() {
  const all = notifyModule({ channels: [inboxChannel()] }).migrations ?? {}
  const older = Object.fromEntries(Object.entries(all).filter(([name]) => name < SETTLED))
  return { all, older }
}

/** A row as code before 0010 left it: every result kept the mark's token. */
function olderRow(
  id: string,
  status: DeliveryStatus,
  lastError: string | null,
): Omit<DeliveryRow, 'quiet_hours' | 'sent_to'> {
  return {
    id,
    notification_id: `n-${id}`,
    type: 'ping',
    category: 'default',
    recipient_id: 'ada',
    channel: 'mail',
    address: null,
    message: '{}',
    idempotency_key: null,
    status,
    attempts: 1,
    last_error: lastError,
    provider_message_id: null,
    possible_duplicates: 0,
    replays: 0,
    sending_until: status === 'sending' ? 1_000 : null,
    sending_token: `token-${id}`,
    run_at: 0,
    created_at: 0,
    updated_at: 0,
    sent_at: null,
  }
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`migration ${SETTLED} on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)

    it('clears the tokens older results left behind, keeping those whose message may have gone out', async () => {
      const target = await privateDatabaseUrl(engine)
      const database = new Database(target.url)
      try {
        await database.connect()
        const { all, older } = migrations()
        const source = (given: typeof all) => [{ module: 'mortar.notify', migrations: given }]
        expect(Object.keys(older)).toContain('0009_delivery_sending_lease')
        const before = await new ModuleMigrator({ db: database.root, sources: source(older) }).up()
        expect(before.ran).not.toContain(`mortar.notify/${SETTLED}`)
        const db = database.root as Kysely<{ [DELIVERY_TABLE]: DeliveryRow }>
        await db
          .insertInto(DELIVERY_TABLE)
          .values([
            // A mark with no result (its worker died, its send was given up) or a transient
            // failure under it: the next send may be a duplicate.
            olderRow('marked', 'sending', null),
            olderRow('last-transient', 'dead', 'transient: no answer within 30000 ms'),
            // Results that settled the send: accepted, refused, certainly not accepted.
            olderRow('sent', 'sent', null),
            olderRow('refused', 'dead', 'permanent: bad address'),
            olderRow('dead-unknown', 'dead', null),
            olderRow('not-accepted', 'failed', 'not-accepted: connection refused'),
            olderRow('suppressed', 'suppressed', 'opted out'),
          ])
          .execute()

        const after = await new ModuleMigrator({ db: database.root, sources: source(all) }).up()
        expect(after.ran[0]).toBe(`mortar.notify/${SETTLED}`)
        const rows = await db
          .selectFrom(DELIVERY_TABLE)
          .select(['id', 'status', 'sending_token'])
          .orderBy('id')
          .execute()
        expect(Object.fromEntries(rows.map((row) => [row.id, row.sending_token]))).toEqual({
          'dead-unknown': null,
          'last-transient': 'token-last-transient',
          marked: 'token-marked',
          'not-accepted': null,
          refused: null,
          sent: null,
          suppressed: null,
        })
        // Statuses are left as they were.
        expect(rows.find((row) => row.id === 'marked')?.status).toBe('sending')
      } finally {
        await database.destroy()
        await target.drop()
      }
    })
  })
}
