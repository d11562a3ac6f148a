import fc from 'fast-check'
import { sealData } from 'iron-session'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import {
  CLOCK_SKEW_TOLERANCE_MS,
  newCsrfToken,
  newSessionId,
  SessionCodec,
  type SessionPayload,
  splitCookieValue,
} from './session-codec.js'
import { COOKIE_LIMIT_BYTES, cookieBytes } from './cookie-header.js'
import { resolveSessionConfig } from './session-config.js'
import { SessionTooLargeError } from '../errors.js'

// 10,000 cases by default; MORTAR_FUZZ_RUNS=100000 npx vitest run packages/session for more.
const RUNS = Number(process.env.MORTAR_FUZZ_RUNS ?? 10_000)
const KEY_1 = 'k1-0123456789abcdef0123456789abcdef'
const KEY_2 = 'k2-0123456789abcdef0123456789abcdef'
const FOREIGN = 'foreign-0123456789abcdef0123456789abcdef'
const NOW = Date.UTC(2026, 5, 1)
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const schema = z.object({
  role: z.enum(['customer', 'admin']).default('customer'),
  cart: z.array(z.string()).default([]),
})
const config = resolveSessionConfig({
  cookieName: 'test.session',
  password: { 1: KEY_1, 2: KEY_2 },
  schema,
  development: true,
})
const codec = new SessionCodec(config, schema)

function payload(data: z.output<typeof schema>): SessionPayload {
  return {
    id: newSessionId(),
    createdAt: NOW - 1000,
    issuedAt: NOW - 1000,
    userId: 'user-1',
    data,
    flash: undefined,
    csrfToken: newCsrfToken(),
  }
}

describe('SessionCodec', () => {
  const genuine: { sealed: string; payload: SessionPayload }[] = []

  beforeAll(async () => {
    for (const data of [
      { role: 'customer' as const, cart: [] },
      { role: 'customer' as const, cart: ['sku-1', 'sku-2'] },
      { role: 'admin' as const, cart: ['x'.repeat(300)] },
    ]) {
      const sealedPayload = payload(data)
      genuine.push({ sealed: await codec.seal(sealedPayload), payload: sealedPayload })
    }
  })

  it('opens what it sealed', async () => {
    for (const { sealed, payload: expected } of genuine) {
      const opened = await codec.open(sealed, NOW)
      expect(opened).toEqual({ ok: true, keyId: '2', payload: expected })
    }
  })

  it(`never throws and never accepts forged data (${RUNS} tampered, truncated, oversized, re-keyed and random cookies)`, async () => {
    const original = fc.constantFrom(...genuine)
    const tampered = fc
      .tuple(original, fc.nat(), fc.constantFrom(...BASE64URL))
      .map(([{ sealed, payload }, at, char]) => {
        const index = at % sealed.length
        return { value: sealed.slice(0, index) + char + sealed.slice(index + 1), payload }
      })
    const truncated = fc
      .tuple(original, fc.nat())
      .map(([{ sealed, payload }, at]) => ({ value: sealed.slice(0, at % sealed.length), payload }))
    const oversized = fc
      .tuple(original, fc.string({ minLength: 1, maxLength: 5000 }), fc.boolean())
      .map(([{ sealed, payload }, extra, front]) => ({
        value: front ? extra + sealed : sealed + extra.repeat(Math.ceil(4100 / extra.length)),
        payload,
      }))
    const random = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .array(fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 40 }), { maxLength: 9 })
        .map((parts) => `Fe26.2*${parts.join('*')}~2`),
    )

    // Sealing under an unknown key is slow (real crypto): seal a small pool once, pick from it.
    const rekeyedPool: string[] = []
    for (const id of ['1', '2', '3', '99']) {
      for (const role of ['admin', 'root']) {
        const envelope = {
          v: 1,
          id: newSessionId(),
          c: NOW,
          i: NOW,
          u: 'attacker',
          d: { role },
          t: newCsrfToken(),
        }
        rekeyedPool.push(await sealData(envelope, { password: { [id]: FOREIGN } }))
      }
    }

    const cases = fc.oneof(
      tampered.map((c) => ({ kind: 'tampered' as const, ...c })),
      truncated.map((c) => ({ kind: 'truncated' as const, ...c })),
      oversized.map((c) => ({ kind: 'oversized' as const, ...c })),
      fc.constantFrom(...rekeyedPool).map((value) => ({
        kind: 'rekeyed' as const,
        value,
        payload: undefined,
      })),
      random.map((value) => ({ kind: 'random' as const, value, payload: undefined })),
    )

    await fc.assert(
      fc.asyncProperty(cases, async ({ kind, value, payload: source }) => {
        const opened = await codec.open(value, NOW)
        if (!opened.ok) return
        // Only a cookie that still carries its original, untouched content may open (a change
        // in iron-session's unauthenticated `~2` suffix or in base64 padding bits is not one).
        expect(kind).toMatch(/tampered|truncated/)
        expect(opened.payload).toEqual(source)
      }),
      { numRuns: RUNS },
    )
  })

  it('opens the same cookie again as a fresh copy, still checked against the clock', async () => {
    const { sealed, payload: expected } = genuine[1]!
    const first = await codec.open(sealed, NOW)
    if (!first.ok) throw new Error('not opened')
    ;(first.payload.data as { cart: string[] }).cart.push('changed by the handler')
    const again = await codec.open(sealed, NOW)
    expect(again).toEqual({ ok: true, keyId: '2', payload: expected })
    const idle = await codec.open(sealed, expected.issuedAt + config.ttlSeconds * 1000 + 1)
    expect(idle).toEqual({ ok: false, reason: 'expired' })
  })

  it("refuses a cookie it opened before once iron's own expiry has passed", async () => {
    const { sealed } = genuine[0]!
    expect((await codec.open(sealed, NOW)).ok).toBe(true)
    vi.useFakeTimers({ now: Date.now() + (config.ttlSeconds + 3600) * 1000 })
    try {
      expect(await codec.open(sealed, NOW)).toEqual({ ok: false, reason: 'expired' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('opens a cookie only while its stamps say it lives, whatever they say, and never rewrites them', async () => {
    // Times over the tolerance ahead were taken as now: a copy of such a cookie began again on
    // every request and never ended.
    const ttlMs = config.ttlSeconds * 1000
    const absoluteMs = config.absoluteTtlSeconds * 1000
    await fc.assert(
      fc.asyncProperty(
        // When the sealing server's clock said the cookie was issued and the session began,
        // relative to this server's now (createdAt after issuedAt too: only forgery makes it).
        fc.integer({ min: -2 * absoluteMs, max: 2 * absoluteMs }),
        fc.integer({ min: -absoluteMs, max: 2 * absoluteMs }),
        async (issuedIn, age) => {
          const issuedAt = NOW + issuedIn
          const source = {
            ...payload({ role: 'admin', cart: [] }),
            issuedAt,
            createdAt: Math.max(0, issuedAt - age),
          }
          const opened = await codec.open(await codec.seal(source), NOW)
          const ahead = Math.max(source.issuedAt, source.createdAt) - NOW > CLOCK_SKEW_TOLERANCE_MS
          const lives =
            !ahead && NOW - source.issuedAt <= ttlMs && NOW - source.createdAt <= absoluteMs
          expect(opened.ok).toBe(lives)
          if (opened.ok) expect(opened.payload).toEqual(source)
          else expect(opened.reason).toBe(ahead ? 'issued-ahead' : 'expired')
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses a seal whose envelope is not a Mortar session', async () => {
    const foreignShape = await sealData(
      { user: { id: 1, admin: true } },
      { password: { 2: config.passwords['2'] as string } },
    )
    expect(await codec.open(foreignShape, NOW)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('never opens a seal made for another cookie name, even with the same password', async () => {
    const other = new SessionCodec(
      resolveSessionConfig({
        cookieName: 'other.session',
        password: { 1: KEY_1, 2: KEY_2 },
        schema,
        development: true,
      }),
      schema,
    )
    const sealed = await other.seal(payload({ role: 'admin', cart: [] }))
    expect(await other.open(sealed, NOW)).toMatchObject({ ok: true })
    expect(await codec.open(sealed, NOW)).toEqual({ ok: false, reason: 'invalid-seal' })
  })

  // A seal grows by a newer key id's extra digits: one save() accepted just under 4096 bytes was
  // past them re-sealed under a longer id, so the rotation never re-issued it.
  it('seals only what it can re-seal under every key id a rotation may add', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 2600, max: 2900 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        async (oldDigits, newDigits, length, nameLength, idHint) => {
          const oldId = 10 ** (oldDigits - 1)
          const newId = Math.max(10 ** (newDigits - 1), oldId + 1)
          const cookieName = 'c'.repeat(nameLength)
          const codecOf = (password: Record<number, string>) =>
            new SessionCodec(
              resolveSessionConfig({ cookieName, password, schema, development: true }),
              schema,
            )
          const sealed = await codecOf({ [oldId]: KEY_1 })
            .seal(payload({ role: 'customer', cart: ['x'.repeat(length)] }), { idHint })
            .catch((error: unknown) => error)
          if (typeof sealed !== 'string') {
            expect(sealed).toBeInstanceOf(SessionTooLargeError)
            return
          }
          // The next request, after the rotation: opened, and re-sealed under the newest key.
          const rotated = codecOf({ [oldId]: KEY_1, [newId]: KEY_2 })
          const opened = await rotated.open(splitCookieValue(sealed).seal, NOW)
          if (!opened.ok) throw new Error(`not opened: ${opened.reason}`)
          const resealed = await rotated.seal(opened.payload, { idHint, reissue: true })
          expect(resealed).toContain(`Fe26.2*${newId}*`)
          expect(cookieBytes(cookieName, resealed)).toBeLessThanOrEqual(COOKIE_LIMIT_BYTES)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
