import { createLogger, DATABASE, type Database, EVENT_BUS, JOBS, Vault } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  snapshotTables,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Channel } from '../channels/channel.js'
import { chatChannel } from '../channels/chat/chat-channel.js'
import { generateWebhookSecret } from '../channels/webhook/standard-webhooks.js'
import { webhookChannel } from '../channels/webhook/webhook-channel.js'
import { defineDigest } from '../digest/define-digest.js'
import { NotifyConfigError } from '../errors.js'
import { notifyModule } from '../module/notify-module.js'
import { notifyCommands } from '../module/notify-commands.js'
import { DELIVERIES } from '../module/notify-tokens.js'
import { notify } from '../module/running-notifiers.js'
import { Notification } from '../notification/notification.js'
import { route } from '../notification/recipient.js'
import { shownAddress, withoutAddress } from '../notification/shown-address.js'
import { notifyTestApp } from '../test-support/notify-test-app.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'
import { AddressSeal, shownStoredAddress } from './sealed-address.js'

class Deployed extends Notification {
  readonly type = 'deployed'
  via() {
    return ['webhook'] as const
  }
  toWebhook() {
    return { type: 'deployed', data: {} }
  }
}

class KeyedDeploy extends Deployed {
  readonly key = 'deploy-42'
}

class Paged extends Notification {
  readonly type = 'paged'
  via() {
    return ['chat'] as const
  }
  toChat() {
    return { text: 'paged' }
  }
}

// Incoming-webhook URLs: whoever reads one can post to the room.
const SLACK = 'https://hooks.slack.com/services/T000/B000/SECRETslackTOKEN'
const HOOK = 'https://user:SECRETpass@hooks.example.com/in?token=SECRETquery'

const SIGNING = generateWebhookSecret()
const vault = new Vault({ keys: { k1: Vault.generateKey() } })

const hookDigest = defineDigest({
  key: 'hooks',
  schema: z.object({ n: z.number() }),
  window: { minutes: 30 },
  channels: ['webhook'],
  toWebhook: (items) => ({ type: 'digest', data: { count: items.length } }),
})

class Digested extends Notification {
  readonly type = 'digested'
  readonly digest = hookDigest.entry({ n: 1 })
  via() {
    return [] as const
  }
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`secret-bearing addresses on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: PrivateDatabaseUrl
    let app: TestApp
    let webhook: RecordingChannel<'webhook'>

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      webhook = recordingChannel('webhook', () => undefined)
      app = createTestApp({
        database: database.url,
        logger: createLogger({ level: 'silent' }),
        jobs: { workers: false },
        modules: [
          notifyModule({
            vault,
            channels: [webhook, chatChannel({ defaultUrl: SLACK })],
            digests: [hookDigest],
          }),
        ],
      })
      await app.migrate()
      await app.start()
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    it('sends to the whole URL but never shows its path, query or credentials', async () => {
      const owner = { id: 'team-1', routes: { webhook: HOOK } }
      const onDemand = route('webhook', SLACK)
      await notify([owner, onDemand], new Deployed())
      // A chat URL no channel can post to is dead with a reason, which must not quote it either.
      await notify({ id: 'team-2', routes: { chat: 'ftp://files.example/SECRETftp' } }, new Paged())
      await app.resolve(JOBS).drain()

      expect(webhook.sent.map((s) => s.to).sort()).toEqual([HOOK, SLACK].sort())
      expect(onDemand.id).not.toContain('SECRET')
      const deliveries = app.resolve(DELIVERIES)
      const records = [
        ...(await deliveries.list('team-1')),
        ...(await deliveries.list(onDemand.id)),
        ...(await deliveries.list('team-2')),
      ]
      expect(records.map((r) => r.status).sort()).toEqual(['dead', 'sent', 'sent'])
      expect(records.map((r) => r.address).sort()).toEqual([
        'ftp://files.example/…',
        'https://hooks.example.com/…',
        'https://hooks.slack.com/…',
      ])
      expect(JSON.stringify(records)).not.toContain('SECRET')
      expect(JSON.stringify(await deliveries.status())).not.toContain('SECRET')
    })

    it("keeps an on-demand recipient's id as a keyed digest, never its address nor a plain hash of it, and dedupes by it", async () => {
      const url = `${HOOK}&keyed`
      const first = await notify(route('webhook', url), new KeyedDeploy())
      const again = await notify(route('webhook', url), new KeyedDeploy())
      expect(again.deliveries.map((d) => d.status)).toEqual(['duplicate'])
      const id = first.deliveries[0]?.id ?? ''
      const db = (app.resolve(DATABASE) as Database).kysely
      const { stored } = await sql<{
        stored: string
      }>`select recipient_id as stored from mortar_delivery where id = ${id}`
        .execute(db)
        .then((result) => result.rows[0] ?? { stored: '' })
      expect(stored).toMatch(/^route:#[A-Za-z0-9_-]{43}$/)
      expect(first.deliveries[0]?.recipientId).toBe(stored)
      // Before, the id held the URL's host and a plain SHA-256 of the URL, which a dictionary of
      // likely URLs (or of mail addresses, held as they are) reverses.
      const plain = createHash('sha256').update(url).digest('base64url').slice(0, 22)
      expect(JSON.stringify(await snapshotTables(app))).not.toContain(plain)
      const deliveries = app.resolve(DELIVERIES)
      expect((await deliveries.list(route('webhook', url).id)).map((d) => d.id)).toEqual([id])
      expect((await deliveries.list(stored)).map((d) => d.id)).toEqual([id])
      await app.resolve(JOBS).drain()
      webhook.sent.length = 0
    })

    it('keeps no such URL in plaintext in any table, and sends, replays and digests from the sealed rows', async () => {
      // Before, the ledger's address column and a digest batch's recipient snapshot held them.
      webhook.script.push({ status: 'permanent', reason: 'the hook said no' })
      const onDemand = route('webhook', HOOK)
      await notify(onDemand, new Deployed())
      await notify({ id: 'team-3', routes: { webhook: SLACK } }, new Digested())
      await app.resolve(JOBS).drain()
      expect(JSON.stringify(await snapshotTables(app))).not.toContain('SECRET')

      const deliveries = app.resolve(DELIVERIES)
      const dead = (await deliveries.list(onDemand.id)).filter((d) => d.status === 'dead')
      expect(dead).toHaveLength(1)
      webhook.sent.length = 0
      expect(await deliveries.replay(dead.map((d) => d.id))).toBe(1)
      await app.resolve(JOBS).drain()
      expect(webhook.sent.map((s) => s.to)).toEqual([HOOK])

      app.clock.advance(31 * 60_000)
      await app.resolve(JOBS).drain()
      await app.resolve(JOBS).drain()
      expect(webhook.sent.map((s) => s.to)).toEqual([HOOK, SLACK])
      expect(JSON.stringify(await snapshotTables(app))).not.toContain('SECRET')
    })

    it('seals with `mortar notify seal-addresses` what rows written before the vault hold in plaintext', async () => {
      const legacy = route('webhook', `${HOOK}&legacy`)
      webhook.script.push({ status: 'permanent', reason: 'not now' })
      // The id the ledger keeps for it: keyed under the vault.
      const legacyId = (await notify(legacy, new Deployed())).deliveries[0]?.recipientId
      await notify({ id: 'team-6', routes: { webhook: `${SLACK}/legacy` } }, new Digested())
      await app.resolve(JOBS).drain()
      const db = (app.resolve(DATABASE) as Database).kysely
      // As rows written before the module had a vault: the whole URLs.
      await sql`update mortar_delivery set address = ${`${HOOK}&legacy`}, last_error = ${`permanent: POST ${HOOK}&legacy refused`} where recipient_id = ${legacyId}`.execute(
        db,
      )
      await sql`update mortar_digest_batch set recipient = ${JSON.stringify({ id: 'team-6', routes: { webhook: `${SLACK}/legacy` } })} where recipient_id = ${'team-6'}`.execute(
        db,
      )
      expect(JSON.stringify(await snapshotTables(app))).toContain('SECRET')
      const command = notifyCommands.find((c) => c.name === 'notify seal-addresses')
      const run = async () => {
        const out: string[] = []
        const code = await command?.run({
          app: app as never,
          args: [],
          stdout: (line) => out.push(line),
          stderr: (line) => out.push(line),
        })
        return { code, out }
      }
      expect(await run()).toEqual({
        code: 0,
        out: ['Sealed the address of 1 delivery and the routes of 1 digest batch.'],
      })
      expect(JSON.stringify(await snapshotTables(app))).not.toContain('SECRET')
      expect((await run()).out).toEqual([
        'Sealed the address of 0 deliveries and the routes of 0 digest batches.',
      ])
      // And they are read as before: the dead delivery replayed, the batch closed.
      webhook.sent.length = 0
      const deliveries = app.resolve(DELIVERIES)
      const dead = (await deliveries.list(legacy.id)).filter((d) => d.status === 'dead')
      await deliveries.replay(dead.map((d) => d.id))
      app.clock.advance(31 * 60_000)
      await app.resolve(JOBS).drain()
      await app.resolve(JOBS).drain()
      expect(webhook.sent.map((s) => s.to).sort()).toEqual(
        [`${HOOK}&legacy`, `${SLACK}/legacy`].sort(),
      )
    })

    it('sends none whose sealed address was moved to another row', async () => {
      const moved = route('webhook', `${HOOK}&moved`)
      const movedId = (await notify(moved, new Deployed())).deliveries[0]?.recipientId ?? ''
      await notify({ id: 'team-4', routes: { webhook: 'https://other.example/x' } }, new Deployed())
      const db = (app.resolve(DATABASE) as Database).kysely
      const addressOf = async (recipientId: string) =>
        (
          await sql<{ id: string; address: string }>`
            select id, address from mortar_delivery where recipient_id = ${recipientId}`.execute(db)
        ).rows[0] as { id: string; address: string }
      const source = await addressOf(movedId)
      const target = await addressOf('team-4')
      // The seal is bound to its row: another row holding its ciphertext cannot open it.
      await sql`update mortar_delivery set address = ${source.address} where id = ${target.id}`.execute(
        db,
      )
      webhook.sent.length = 0
      await app.resolve(JOBS).drain()
      expect(webhook.sent.map((s) => s.to)).toEqual([`${HOOK}&moved`])
      const record = await app.resolve(DELIVERIES).get(target.id)
      expect(record).toMatchObject({ status: 'dead', address: 'https://hooks.example.com/…' })
      expect(record?.lastError).toMatch(/sealed address could not be opened/)
      expect(record?.lastError).not.toContain('SECRET')
    })
  })
}

describe('secret-bearing addresses without a vault', () => {
  it('make a module with a chat or webhook channel fail when it is made', () => {
    expect(() => notifyModule({ channels: [chatChannel({ defaultUrl: SLACK })] })).toThrow(
      NotifyConfigError,
    )
    expect(() => notifyModule({ channels: [webhookChannel({ secret: SIGNING })] })).toThrow(
      /pass notifyModule\(\{ vault \}\)/,
    )
  })

  it('are refused by notify() with E_NOTIFY_CONFIG, which writes nothing', async () => {
    const webhook = recordingChannel('webhook', () => undefined)
    const app = notifyTestApp({ channels: [webhook] })
    await app.migrate()
    await app.start()
    try {
      const before = await snapshotTables(app)
      await expect(notify(route('webhook', HOOK), new Deployed())).rejects.toBeInstanceOf(
        NotifyConfigError,
      )
      expect(await snapshotTables(app)).toEqual(before)
      // Mail addresses, phone numbers and ids need no vault.
      await notify({ id: 'team-5', routes: { webhook: 'team-5-hook-id' } }, new Deployed())
      await app.resolve(JOBS).drain()
      expect(webhook.sent.map((s) => s.to)).toEqual(['team-5-hook-id'])
    } finally {
      await app.stop()
    }
  })
})

describe('a channel that quotes the URL it sends to', () => {
  it('never gets it into last_error, notification.failed or the jobs, whatever it reports or throws', async () => {
    // Before, its reasons and errors were stored and published as they came.
    const loud: Channel<'webhook'> = {
      name: 'webhook',
      idempotent: true,
      route: () => undefined,
      validate: (_message, to) => (to.includes('refuse') ? `cannot post to ${to}` : undefined),
      async send({ to }) {
        const url = new URL(to)
        if (url.searchParams.has('throw')) throw new TypeError(`Failed to parse URL from ${to}`)
        return {
          status: 'permanent',
          reason: `POST ${url.pathname}${url.search} as ${url.username}:${url.password} answered 410`,
        }
      },
    }
    const app = notifyTestApp({ channels: [loud], vault, delivery: { attempts: 2 } })
    await app.migrate()
    await app.start()
    try {
      const failed: unknown[] = []
      app.resolve(EVENT_BUS).subscribe('notification.failed', (event) => void failed.push(event))
      const result = await notify(
        [
          route('webhook', HOOK),
          route('webhook', `${HOOK}&throw`),
          route('webhook', `${HOOK}&refuse`),
        ],
        new Deployed(),
      )
      expect(JSON.stringify(result)).not.toContain('SECRET')
      await app.resolve(JOBS).drain()
      await app.resolve(JOBS).drain()
      expect(failed.length).toBeGreaterThanOrEqual(3)
      expect(JSON.stringify(failed)).not.toContain('SECRET')
      const tables = JSON.stringify(await snapshotTables(app))
      expect(tables).toContain('answered 410')
      expect(tables).toContain('Failed to parse URL from https://hooks.example.com/…')
      expect(tables).not.toContain('SECRET')
    } finally {
      await app.stop()
    }
  })
})

describe('AddressSeal', () => {
  const seal = new AddressSeal(vault)

  it('stores any address that hides a part sealed, and opens it whole, in its place only', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()),
        fc.uuid(),
        (address, id) => {
          const stored = seal.seal(address, `place:${id}`)
          expect(seal.open(stored, `place:${id}`)).toBe(address)
          expect(shownStoredAddress(stored)).toBe(shownAddress(address))
          if (shownAddress(address) === address) expect(stored).toBe(address)
          else {
            // Nothing of it but what is shown, and a ciphertext.
            const rest = stored.slice(shownAddress(address).length)
            expect(rest).toMatch(/^ sealed:[A-Za-z0-9_-]+$/)
            expect(() => seal.open(stored, `place:${id}x`)).toThrow()
          }
        },
      ),
    )
  })
})

describe('withoutAddress', () => {
  it('leaves no secret-bearing URL, nor its path, query or password, in any text around it', () => {
    fc.assert(
      fc.property(
        fc.webUrl({
          withQueryParameters: true,
          withFragments: true,
          authoritySettings: { withUserInfo: true },
        }),
        fc.string(),
        fc.string(),
        (address, before, after) => {
          const url = new URL(address)
          const text = `${before}${address}${after} (${url.pathname}${url.search}; ${url.password})`
          const cleaned = withoutAddress(text, address)
          if (shownAddress(address) === address) return
          expect(cleaned).not.toContain(address)
          for (const part of [`${url.pathname}${url.search}`, url.password]) {
            if (part.length >= 4 && !`${before}${after}`.includes(part)) {
              expect(cleaned).not.toContain(part)
            }
          }
        },
      ),
    )
  })
})

describe('addresses', () => {
  it('keeps two URLs on one host two on-demand recipients', () => {
    const a = route('chat', `${SLACK}a`)
    const b = route('chat', `${SLACK}b`)
    expect(a.id).not.toBe(b.id)
    expect(route('chat', `${SLACK}a`).id).toBe(a.id)
  })

  it('shows mail addresses, phone numbers and ids as they are', () => {
    for (const address of ['ada@example.com', '+15550100', 'user:1', 'mailto:ada@example.com']) {
      expect(shownAddress(address)).toBe(address)
    }
  })
})
