// A delivery worker process for the chaos test (notify-chaos.test.ts): an app with the notify
// module's webhook channel and in-process workers, nothing else. The test SIGKILLs it at random.
// Started with `node --import scripts/run-ts/register.mjs chaos-worker.ts '<settings as JSON>'`.
import 'reflect-metadata'
import { createApp, createLogger, Vault } from '@mortar/core'
import { webhookChannel } from '../../channels/webhook/webhook-channel.js'
import { notifyModule } from '../../module/notify-module.js'

interface Settings {
  readonly url: string
  readonly secret: string
  /** The key the webhook URLs are sealed with in the ledger, the test process's too. */
  readonly vaultKey: string
  readonly concurrency: number
  readonly leaseMs: number
}

const settings = JSON.parse(process.argv[2] ?? '{}') as Settings

const app = createApp({
  database: settings.url,
  logger: createLogger({ level: 'error' }),
  jobs: {
    workers: { concurrency: settings.concurrency, leaseMs: settings.leaseMs, pollMs: 100 },
  },
  modules: [
    notifyModule({
      channels: [
        // The receiver listens on 127.0.0.1, which the SSRF guard refuses unless allowed.
        webhookChannel({ secret: settings.secret, addressGuard: { allow: ['127.0.0.1/32'] } }),
      ],
      vault: new Vault({ keys: { chaos: settings.vaultKey } }),
      delivery: { attempts: 30, backoff: { baseMs: 100, maxMs: 1_000 }, timeoutMs: 10_000 },
    }),
  ],
})

await app.start()
app.handleSignals({ timeoutMs: 5_000 })
process.send?.('ready')
