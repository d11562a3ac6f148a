import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'
import { storedCountry, storedUserAgent, truncateIp } from './request-fields.js'

describe('truncateIp', () => {
  it('zeroes the host part: IPv4 to /24, IPv6 to /48, IPv4-mapped IPv6 as IPv4', () => {
    expect(truncateIp('203.0.113.7')).toBe('203.0.113.0')
    expect(truncateIp('::ffff:198.51.100.23')).toBe('198.51.100.0')
    expect(truncateIp('2001:0db8:85a3:08d3:1319:8a2e:0370:7348')).toBe('2001:db8:85a3::')
    expect(truncateIp('2001:db8::1')).toBe('2001:db8:0::')
    expect(truncateIp('fe80::1%eth0')).toBe('fe80:0:0::')
    expect(truncateIp('::1')).toBe('0:0:0::')
  })

  it('stores nothing for what is not an address', () => {
    expect(truncateIp('unknown')).toBeNull()
    expect(truncateIp('203.0.113')).toBeNull()
  })
})

describe('storedCountry and storedUserAgent', () => {
  it('keeps two-character codes in upper case and nothing else', () => {
    expect(storedCountry('fr')).toBe('FR')
    expect(storedCountry('T1')).toBe('T1')
    expect(storedCountry('France')).toBeNull()
    expect(storedCountry(undefined)).toBeNull()
  })

  it('caps the user agent at 512 characters', () => {
    expect(storedUserAgent('x'.repeat(600))).toHaveLength(512)
    expect(storedUserAgent('')).toBeNull()
  })
})

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `request fields of tracked events, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>

      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          country: (ip, context) =>
            ip.startsWith('203.') ? 'fr' : context.http?.header('cf-ipcountry'),
          consent: {
            granted: (context) => context.http?.header('cookie') !== 'consent=no',
            without: 'anonymous',
          },
        })
      })
      afterAll(() => subject?.close())

      const stored = async (productId: string) => {
        await subject.analytics.flush()
        return subject.db
          .selectFrom('mortar_analytics_event')
          .select(['ip', 'user_agent', 'country', 'anonymous_id'])
          .where('name', '=', 'product_viewed')
          .where(
            subject.db.dynamic.ref('properties'),
            engine.engine === 'postgres' ? '=' : 'like',
            engine.engine === 'postgres'
              ? (JSON.stringify({ productId }) as never)
              : (`%${productId}%` as never),
          )
          .executeTakeFirstOrThrow()
      }

      it('keeps the truncated address, the user agent and the country of the request', async () => {
        const { analytics, app } = subject
        inRequest(app, { ip: '203.0.113.7', userAgent: 'Test/1.0' }, () =>
          analytics.track('product_viewed', { productId: 'v4' }),
        )
        inRequest(app, { ip: '2001:db8:85a3:8d3::7', headers: { 'cf-ipcountry': 'DE' } }, () =>
          analytics.track('product_viewed', { productId: 'v6' }),
        )
        expect(await stored('v4')).toMatchObject({
          ip: '203.0.113.0',
          user_agent: 'Test/1.0',
          country: 'FR',
        })
        expect(await stored('v6')).toMatchObject({ ip: '2001:db8:85a3::', country: 'DE' })
      })

      it('records none of them without consent, nor outside a request', async () => {
        const { analytics, app } = subject
        inRequest(app, { headers: { cookie: 'consent=no' } }, () =>
          analytics.track('product_viewed', { productId: 'refused' }),
        )
        analytics.track('product_viewed', { productId: 'job' }, { userId: 'u-1' })
        for (const productId of ['refused', 'job']) {
          expect(await stored(productId)).toEqual({
            ip: null,
            user_agent: null,
            country: null,
            anonymous_id: null,
          })
        }
      })

      it('records no identity without consent, not even ids passed in, and no identify or alias', async () => {
        const { analytics, app, db } = subject
        const refused = { headers: { cookie: 'consent=no' }, principal: { id: 'u-refused' } }
        inRequest(app, refused, () => {
          analytics.track(
            'product_viewed',
            { productId: 'explicit' },
            { userId: 'u-refused', anonymousId: 'a-refused', sessionId: 's-refused' },
          )
          analytics.identify('u-refused', { email: 'ada@example.com' })
          analytics.alias('a-old', 'u-refused')
        })
        await analytics.flush()
        const rows = await db
          .selectFrom('mortar_analytics_event')
          .select(['name', 'user_id', 'anonymous_id', 'session_id'])
          .where((eb) =>
            eb.or([
              eb('user_id', '=', 'u-refused'),
              eb('name', 'in', ['$identify', '$alias']),
              eb('anonymous_id', '=', 'a-refused'),
            ]),
          )
          .execute()
        expect(rows).toEqual([])
        expect(await stored('explicit')).toMatchObject({ anonymous_id: null })
        const links = await db
          .selectFrom('mortar_analytics_identity')
          .select('anonymous_id')
          .where('user_id', '=', 'u-refused')
          .execute()
        expect(links).toEqual([])
      })

      it('takes a consent check that throws as no consent, never throwing into the handler', async () => {
        const throwing = await startEngineApp(engine, {
          events,
          consent: {
            granted: () => {
              throw new Error('consent store down')
            },
            without: 'anonymous',
          },
        })
        try {
          expect(() =>
            inRequest(throwing.app, { principal: { id: 'u-throw' } }, () =>
              throwing.analytics.track('product_viewed', { productId: 'throwing' }),
            ),
          ).not.toThrow()
          await throwing.analytics.flush()
          const rows = await throwing.db
            .selectFrom('mortar_analytics_event')
            .select(['user_id', 'anonymous_id', 'ip'])
            .execute()
          expect(rows).toEqual([{ user_id: null, anonymous_id: null, ip: null }])
        } finally {
          await throwing.close()
        }
      })

      it('keeps an event whose identity resolver throws as failed with the reason, never throwing into the handler', async () => {
        const throwing = await startEngineApp(engine, {
          events,
          identity: () => {
            throw new Error('session store down')
          },
        })
        try {
          expect(() =>
            inRequest(throwing.app, {}, () =>
              throwing.analytics.track('product_viewed', { productId: 'unknown-visitor' }),
            ),
          ).not.toThrow()
          // Outside a request no resolver runs: recorded as always.
          throwing.analytics.track('product_viewed', { productId: 'no-request' })
          await throwing.analytics.flush()
          const stored = await throwing.db
            .selectFrom('mortar_analytics_event')
            .select('user_id')
            .execute()
          expect(stored).toEqual([{ user_id: null }])
          const failed = await throwing.db
            .selectFrom('mortar_analytics_failed_event')
            .select(['name', 'reason', 'user_id'])
            .execute()
          expect(failed).toEqual([
            {
              name: 'product_viewed',
              reason: 'The identity resolver threw: session store down',
              user_id: null,
            },
          ])
        } finally {
          await throwing.close()
        }
      })
    },
  )
}
