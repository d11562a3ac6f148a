import { JOBS, Vault } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { INBOX } from '../channels/inbox/inbox-channel.js'
import { inboxChannel } from '../channels/inbox/index.js'
import { generateWebhookSecret } from '../channels/webhook/standard-webhooks.js'
import { webhookChannel } from '../channels/webhook/webhook-channel.js'
import { Notification } from '../notification/notification.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Long extends Notification {
  constructor(readonly title: string) {
    super()
  }
  via() {
    return ['webhook', 'inbox'] as const
  }
  toWebhook() {
    return { type: 'long', data: {} }
  }
  toInbox() {
    return { title: this.title }
  }
}

// Before, MariaDB's 64 KiB `text` refused what the other engines stored: a webhook URL the
// recipient check takes (its sealed form a third longer) failed the whole notify() with
// E_DATABASE_INPUT, and an inbox title over 64 KiB was retried as a transient failure until dead.
for (const engine of testEngines()) {
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`long values on ${engine.title}`, () => {
    const started = notifyAppOn(engine, {
      channels: [
        webhookChannel({
          secret: generateWebhookSecret(),
          // No network: the name resolves to nothing.
          lookup: (_name, _options, callback) =>
            callback(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }), []),
        }),
        inboxChannel(),
      ],
      vault: new Vault({ keys: { k: Vault.generateKey() } }),
    })

    it('keeps a 60,000-character webhook URL and a 70,000-character inbox title', async () => {
      const app = started()
      const url = `https://hooks.example.com/${'a'.repeat(60_000)}`
      const title = `${'t'.repeat(69_999)}é`
      const result = await app
        .resolve(NOTIFIER)
        .notify({ id: 'ada', routes: { webhook: url } }, new Long(title))
      expect(result.deliveries.map((d) => d.status)).toEqual(['queued', 'queued'])
      await app.resolve(JOBS).drain()
      const rows = await app.resolve(DELIVERIES).list('ada')
      expect(rows.find((row) => row.channel === 'inbox')?.status).toBe('sent')
      expect(rows.find((row) => row.channel === 'webhook')?.lastError).toMatch(/ENOTFOUND/)
      const [item] = (await app.resolve(INBOX).list('ada')).items
      expect(item?.title).toBe(title)
    })
  })
}
