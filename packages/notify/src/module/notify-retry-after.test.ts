import { JOBS } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { smsChannel } from '../channels/sms/sms-channel.js'
import { Notification } from '../notification/notification.js'
import { type LocalServer, startLocalServer } from '../test-support/local-server.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Shipped extends Notification {
  readonly type = 'order.shipped'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'On its way.' }
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(
    `a provider's Retry-After on ${engine.title} with the SQL queue`,
    () => {
      let database: PrivateDatabaseUrl
      let provider: LocalServer
      let app: TestApp
      let retryAfter: string | undefined

      beforeAll(async () => {
        database = await privateDatabaseUrl(engine)
        // Rate limited once for each Retry-After a test sets, then accepting.
        provider = await startLocalServer((request, response) => {
          response.setHeader('content-type', 'application/json')
          if (retryAfter !== undefined) {
            response.statusCode = 429
            response.setHeader('retry-after', retryAfter)
            retryAfter = undefined
            return response.end('{"code":20429,"message":"Too Many Requests"}')
          }
          response.statusCode = 201
          response.end(JSON.stringify({ sid: `SM${request.body.length}`, status: 'queued' }))
        })
        app = await startedNotifyTestApp(
          {
            channels: [
              smsChannel({
                baseUrl: provider.url,
                accountSid: 'AC123',
                authToken: 'secret-token-1',
                from: '+15550100',
              }),
            ],
          },
          database.url,
        )
      })
      afterAll(async () => {
        await app?.stop()
        await provider?.close()
        await database?.drop()
      })

      it('sends the next attempt no sooner than the hour a 429 asked for, then sends it', async () => {
        const jobs = app.resolve(JOBS)
        retryAfter = '3600'
        await app.resolve(NOTIFIER).notify({ id: 'ada', phone: '+15550199' }, new Shipped())
        await jobs.drain()
        expect(provider.requests).toHaveLength(1)
        const deliveries = app.resolve(DELIVERIES)
        expect((await deliveries.list('ada'))[0]).toMatchObject({ status: 'failed', attempts: 1 })

        // The delivery's backoff (seconds) passes many times over: the provider is not asked.
        app.clock.advance(3_599_999)
        await jobs.drain()
        expect(provider.requests).toHaveLength(1)

        app.clock.advance(1)
        await jobs.drain()
        expect(provider.requests).toHaveLength(2)
        expect((await deliveries.list('ada'))[0]).toMatchObject({ status: 'sent', attempts: 2 })
      })

      it("measures a Retry-After given as a date on the app's clock", async () => {
        const jobs = app.resolve(JOBS)
        const asked = provider.requests.length
        retryAfter = new Date(app.clock.nowMs() + 3_600_000).toUTCString()
        await app.resolve(NOTIFIER).notify({ id: 'bob', phone: '+15550198' }, new Shipped())
        await jobs.drain()
        expect(provider.requests).toHaveLength(asked + 1)

        app.clock.advance(3_599_000)
        await jobs.drain()
        expect(provider.requests).toHaveLength(asked + 1)
        app.clock.advance(1_000)
        await jobs.drain()
        expect(provider.requests).toHaveLength(asked + 2)
        const [row] = await app.resolve(DELIVERIES).list('bob')
        expect(row).toMatchObject({ status: 'sent', attempts: 2 })
      })
    },
  )
}
