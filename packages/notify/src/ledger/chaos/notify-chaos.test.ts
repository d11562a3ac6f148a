import { type ChildProcess, fork } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { type App, createApp, createLogger, Vault } from '@mortar/core'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateWebhookSecret, verifyWebhook } from '../../channels/webhook/standard-webhooks.js'
import { webhookChannel } from '../../channels/webhook/webhook-channel.js'
import { notifyModule } from '../../module/notify-module.js'
import { DELIVERIES, NOTIFIER } from '../../module/notify-tokens.js'
import { Notification } from '../../notification/notification.js'
import type { Recipient } from '../../notification/recipient.js'
import { type LocalServer, startLocalServer } from '../../test-support/local-server.js'

// Real processes on PostgreSQL: three delivery workers, one of them SIGKILLed at random at least
// 50 times while 5,000 notifications go to a webhook receiver that verifies every signature.
const program = fileURLToPath(new URL('./chaos-worker.ts', import.meta.url))
const loader = fileURLToPath(new URL('../../../../../scripts/run-ts/register.mjs', import.meta.url))

const NOTIFICATIONS = 5_000
const KILLS = 50
const WAVE = 50
// The receiver takes its time, so that delivery lasts as long as the kills.
const RECEIVER_DELAY_MS = 40

class Ping extends Notification {
  readonly type = 'chaos.ping'
  via() {
    return ['webhook'] as const
  }
  toWebhook(recipient: Recipient) {
    return { type: 'chaos.ping', data: { recipient: recipient.id } }
  }
}

interface Worker {
  readonly child: ChildProcess
  readonly exited: Promise<unknown>
}

// The webhook URLs are sealed in the ledger: the workers open them with the same key.
const VAULT_KEY = Vault.generateKey()

async function startWorker(url: string, secret: string): Promise<Worker> {
  const child = fork(
    program,
    [JSON.stringify({ url, secret, vaultKey: VAULT_KEY, concurrency: 5, leaseMs: 2_000 })],
    { execArgv: ['--import', loader], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    void exited.then((code) => reject(new Error(`A worker exited before it was ready (${code}).`)))
  })
  return { child, exited }
}

const postgres = testEngines().find((engine) => engine.engine === 'postgres')
if (postgres?.skip) console.info(`[skipped] notify chaos on PostgreSQL: ${postgres.skip}`)

describe.skipIf(postgres === undefined || postgres.skip !== undefined)(
  'the delivery ledger under SIGKILL on PostgreSQL',
  () => {
    let database: PrivateDatabaseUrl
    let app: App
    let receiver: LocalServer
    const secret = generateWebhookSecret()
    const workers: Worker[] = []
    /** webhook-id → recipient, and every request, so retransmissions are counted too. */
    const byId = new Map<string, string>()
    let requests = 0
    let refused = 0

    beforeAll(async () => {
      database = await privateDatabaseUrl(postgres as NonNullable<typeof postgres>)
      receiver = await startLocalServer((request, response) => {
        requests += 1
        try {
          verifyWebhook(secret, request.headers as Record<string, string>, request.body)
        } catch {
          refused += 1
          response.statusCode = 401
          response.end()
          return
        }
        const id = String(request.headers['webhook-id'])
        const { data } = JSON.parse(request.body) as { data: { recipient: string } }
        setTimeout(() => {
          byId.set(id, data.recipient)
          response.statusCode = 204
          response.end()
        }, RECEIVER_DELAY_MS)
      })
      app = createApp({
        database: database.url,
        logger: createLogger({ level: 'silent' }),
        jobs: { workers: false },
        modules: [
          notifyModule({
            channels: [webhookChannel({ secret, addressGuard: { allow: ['127.0.0.1/32'] } })],
            vault: new Vault({ keys: { chaos: VAULT_KEY } }),
          }),
        ],
      })
      await app.migrate()
      await app.start()
    }, 60_000)

    afterAll(async () => {
      for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL')
      await Promise.all(workers.map((worker) => worker.exited))
      await app?.stop()
      await receiver?.close()
      await database?.drop()
    })

    it('delivers 5,000 notifications once each while a worker is killed at least 50 times', async () => {
      const notifier = app.resolve(NOTIFIER)
      const deliveries = app.resolve(DELIVERIES)
      const sentCount = async () =>
        (await deliveries.status()).counts
          .filter((row) => row.status === 'sent')
          .reduce((sum, row) => sum + row.count, 0)
      let notified = 0
      // Notifications keep arriving while workers die: one wave before each kill.
      const wave = async () => {
        const recipients = Array.from({ length: WAVE }, (_, i) => ({
          id: `r${notified + i}`,
          routes: { webhook: `${receiver.url}/hook` },
        }))
        await notifier.notify(recipients, new Ping())
        notified += WAVE
      }

      // Three slots; a killed worker's slot is refilled in the background while others work.
      const slots: (Worker | undefined)[] = await Promise.all(
        [0, 1, 2].map(() => startWorker(database.url, secret)),
      )
      workers.push(...(slots as Worker[]))
      const starting: Promise<void>[] = []
      // Only a kill that lands while deliveries are outstanding counts; a pause that finds every
      // delivery sent (the workers outran it) kills nothing, and the next wave gives another
      // chance. A wave goes out only once a worker is up to be killed, so none is spent while all
      // three restart: 100 waves of 50 leave room for 50 counted kills at any load.
      let kills = 0
      let skipped = 0
      const started = Date.now()
      const ready = () => slots.flatMap((worker, index) => (worker === undefined ? [] : [index]))
      while (kills < KILLS) {
        if (Date.now() - started > 240_000) throw new Error(`Timed out after ${kills} kills.`)
        if (ready().length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          continue
        }
        if (notified >= NOTIFICATIONS) {
          throw new Error(`All ${NOTIFICATIONS} notifications went out after only ${kills} kills.`)
        }
        await wave()
        // Well inside the time a wave takes to deliver (at least WAVE / 15 slots × the receiver's
        // delay, about 130 ms).
        await new Promise((resolve) => setTimeout(resolve, randomInt(10, 100)))
        if ((await sentCount()) >= notified) {
          skipped += 1
          continue
        }
        const candidates = ready()
        const index = candidates[randomInt(candidates.length)] as number
        const victim = slots[index] as Worker
        slots[index] = undefined
        victim.child.kill('SIGKILL')
        kills += 1
        starting.push(
          victim.exited
            .then(() => startWorker(database.url, secret))
            .then((replacement) => {
              workers.push(replacement)
              slots[index] = replacement
            }),
        )
      }
      while (notified < NOTIFICATIONS) await wave()
      await Promise.all(starting)
      while ((await sentCount()) < NOTIFICATIONS) {
        if (Date.now() - started > 270_000) throw new Error('Timed out waiting for the last sends.')
        await new Promise((resolve) => setTimeout(resolve, 200))
      }

      const recipients = new Map<string, number>()
      for (const recipient of byId.values()) {
        recipients.set(recipient, (recipients.get(recipient) ?? 0) + 1)
      }
      const status = await deliveries.status()
      console.info(
        `[notify chaos] ${kills} SIGKILLs while deliveries were outstanding (${skipped} pauses found none), ` +
          `${requests} webhook requests for ${byId.size} ids (retransmissions of an id: ${requests - byId.size}), ` +
          `possible duplicates in the ledger: ${JSON.stringify(status.possibleDuplicates)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      )
      expect(refused).toBe(0)
      expect(kills).toBeGreaterThanOrEqual(KILLS)
      // 0 lost: every recipient received; 0 duplicates: each under one idempotency key.
      expect(recipients.size).toBe(NOTIFICATIONS)
      expect([...recipients.values()].every((count) => count === 1)).toBe(true)
      expect(byId.size).toBe(NOTIFICATIONS)
      expect(status.counts).toEqual([{ channel: 'webhook', status: 'sent', count: NOTIFICATIONS }])
    }, 300_000)
  },
)
