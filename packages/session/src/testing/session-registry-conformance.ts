import { randomBytes } from 'node:crypto'
import type { VitestApi } from '@mortar/core/testing'
import type { SessionRecord, SessionRegistry } from '../registry/index.js'
import { assertNoAliasing } from './registry-aliasing.js'

/** What a conformance setup returns: the registry, and how to release it after the suite. */
export interface SessionRegistrySubject {
  readonly registry: SessionRegistry
  /** Runs after the suite: drop the schema, delete the keys, close the client. */
  dispose?(): void | Promise<void>
}

/** Options of {@link sessionRegistryConformance}. */
export interface SessionRegistryConformanceOptions {
  /**
   * Set to skip the suite, with a one-line notice saying why (the variable naming the server
   * is unset, say). The suite still appears, skipped, in the report.
   */
  readonly skip?: string | undefined
}

/**
 * Registers vitest `describe`/`it` blocks that check a {@link SessionRegistry} against the
 * contract: round trips, exact ids, duplicate creates, `touch` semantics, ordering, revocation
 * (of the named user's sessions only),
 * the atomicity of concurrent calls, and records kept apart from the objects callers hold. Every built-in registry runs it; run it on yours.
 * `setup` runs once before the suite; the tests use fresh random ids and users, so a shared
 * registry (one table, one key prefix) is fine. The first argument is vitest itself (see
 * `VitestApi`): the kit does not import it, so this entry loads without vitest.
 *
 * @example
 * ```ts
 * import { sessionRegistryConformance } from '@mortar/session/testing'
 * import * as vitest from 'vitest'
 * import { MyRegistry } from './my-registry.js'
 *
 * sessionRegistryConformance(vitest, 'MyRegistry', async () => {
 *   const registry = await MyRegistry.connect(process.env.MY_URL)
 *   return { registry, dispose: () => registry.close() }
 * })
 * ```
 */
export function sessionRegistryConformance(
  vitest: VitestApi,
  name: string,
  setup: () =>
    | SessionRegistry
    | SessionRegistrySubject
    | Promise<SessionRegistry | SessionRegistrySubject>,
  options: SessionRegistryConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, expect, it } = vitest
  const skip = options.skip
  if (skip !== undefined) console.info(`[skipped] ${name} session registry conformance: ${skip}`)

  // Skipped only when the caller's server is not configured (an unset MORTAR_TEST_* variable):
  // the reason is printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `${name} session registry conformance${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    let subject: SessionRegistrySubject | undefined
    const registry = (): SessionRegistry => {
      if (subject === undefined) throw new Error('The conformance setup did not finish.')
      return subject.registry
    }

    beforeAll(async () => {
      const made = await setup()
      subject = 'registry' in made ? made : { registry: made }
    })

    afterAll(async () => {
      await subject?.dispose?.()
    })

    it('finds a created session with every field, to the millisecond', async () => {
      const record = makeSessionRecord({
        createdAt: new Date(1_700_000_000_123),
        lastSeenAt: new Date(1_700_000_050_456),
        ip: '2001:db8::ff00:42:8329',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) – "quoted" ünïcode',
      })
      await registry().create(record)
      expect(await registry().find(record.id)).toEqual(record)
    })

    it('returns ip and user agent as undefined when they were not given', async () => {
      const record = makeSessionRecord({ ip: undefined, userAgent: undefined })
      await registry().create(record)
      const found = await registry().find(record.id)
      expect(found?.ip).toBeUndefined()
      expect(found?.userAgent).toBeUndefined()
    })

    it('keeps a long user agent whole', async () => {
      const record = makeSessionRecord({ userAgent: `Agent/${'x'.repeat(1500)}` })
      await registry().create(record)
      expect((await registry().find(record.id))?.userAgent).toBe(record.userAgent)
    })

    it('returns undefined for an unknown id', async () => {
      expect(await registry().find(randomId())).toBeUndefined()
    })

    it("never answers with another session's record, whose id shares all but its end", async () => {
      // A store keyed by a prefix or hash slice of the id hands one visitor another's session.
      const base = randomId()
      const ids = [
        base,
        `${base}a`,
        `${base}b`,
        `${base}aa`,
        `${base.slice(0, -1)}${base.endsWith('x') ? 'y' : 'x'}`,
      ]
      const records = ids.map((id) => makeSessionRecord({ id }))
      for (const record of records) await registry().create(record)
      for (const record of records) expect(await registry().find(record.id)).toEqual(record)
      expect(await registry().find(`${base}c`)).toBeUndefined()
      expect(await registry().find(base.slice(0, -2))).toBeUndefined()
      expect(await registry().revoke(records[1] as SessionRecord)).toBe(true)
      expect(await registry().find(`${base}a`)).toBeUndefined()
      for (const record of [records[0], ...records.slice(2)]) {
        expect(await registry().find((record as SessionRecord).id)).toEqual(record)
      }
    })

    it('forgets a session once revoked, even one read just before (no stale read cache)', async () => {
      const userId = randomId()
      const sessions = [1, 2, 3].map(() => makeSessionRecord({ userId }))
      for (const record of sessions) await registry().create(record)
      for (const record of sessions) expect(await registry().find(record.id)).toEqual(record)
      const [first, ...rest] = sessions as [SessionRecord, ...SessionRecord[]]
      expect(await registry().revoke(first)).toBe(true)
      expect(await registry().find(first.id)).toBeUndefined()
      expect(await registry().revokeAll(userId)).toBe(rest.length)
      for (const record of rest) expect(await registry().find(record.id)).toBeUndefined()
      await registry().touch(first.id, new Date(first.lastSeenAt.getTime() + 1_000))
      expect(await registry().find(first.id)).toBeUndefined()
    })

    it('matches ids exactly, letter case included', async () => {
      const record = makeSessionRecord({ id: `aBcD-${randomId()}` })
      await registry().create(record)
      expect(await registry().find(record.id.toUpperCase())).toBeUndefined()
      expect(await registry().find(record.id.toLowerCase())).toBeUndefined()
      expect(await registry().revoke({ ...record, id: record.id.toLowerCase() })).toBe(false)
      expect(await registry().find(record.id)).toBeDefined()
    })

    it('refuses ids, users and fields with a lone surrogate, which SQL and Redis would store as U+FFFD', async () => {
      // The users 'u\ud800' and 'u\udfff' were one in SQL and Redis: each listed and revoked the other's sessions.
      const user = `user-${randomId()}`
      const live = makeSessionRecord()
      await registry().create(live)
      // Each call named, so a failure says which method let the text through.
      const refuses = async (call: string, promise: Promise<unknown>) => {
        const outcome = await promise.then(
          () => 'resolved',
          (error: unknown) => `rejected with code ${String((error as { code?: unknown }).code)}`,
        )
        if (outcome !== 'rejected with code E_VALIDATION')
          throw new Error(
            `${call} with a lone surrogate ${outcome}: it must reject with E_VALIDATION (core's ValidationError)`,
          )
      }
      for (const unit of ['\ud800', '\udbff', '\udc00', '\udfff']) {
        const refused = [
          ['create() of a userId', makeSessionRecord({ userId: `${user}${unit}` })],
          ['create() of an id', makeSessionRecord({ id: `${randomId()}${unit}` })],
          ['create() of an ip', makeSessionRecord({ ip: `203.0.113.7${unit}` })],
          ['create() of a userAgent', makeSessionRecord({ userAgent: `Agent${unit}` })],
        ] as const
        for (const [call, record] of refused) {
          await refuses(call, registry().create(record))
          expect(await registry().find(record.id.replace(unit, ''))).toBeUndefined()
        }
        const id = `${live.id}${unit}`
        await refuses('find() of an id', registry().find(id))
        await refuses('touch() of an id', registry().touch(id, new Date()))
        await refuses('revoke() of an id', registry().revoke({ id, userId: live.userId }))
        await refuses(
          'revoke() of a userId',
          registry().revoke({ id: live.id, userId: `${live.userId}${unit}` }),
        )
        await refuses('list() of a userId', registry().list(`${user}${unit}`))
        await refuses('revokeAll() of a userId', registry().revokeAll(`${user}${unit}`))
        await refuses('revokeAll() of an except', registry().revokeAll(live.userId, { except: id }))
      }
      expect(await registry().find(live.id)).toEqual(live)
      // A pair is one character: kept as it is, apart from U+FFFD.
      const paired = makeSessionRecord({ userId: `${user}\ud83d\ude00` })
      await registry().create(paired)
      expect(await registry().list(paired.userId)).toEqual([paired])
      expect(await registry().list(`${user}\ufffd`)).toEqual([])
    })

    it('refuses to create an id that is registered and keeps the first record', async () => {
      const first = makeSessionRecord()
      await registry().create(first)
      const second = makeSessionRecord({ id: first.id })
      await expect(registry().create(second)).rejects.toMatchObject({ code: 'E_SESSION_EXISTS' })
      expect(await registry().find(first.id)).toEqual(first)
    })

    it('lets exactly one of two concurrent creates of one id succeed', async () => {
      const id = randomId()
      const results = await Promise.allSettled([
        registry().create(makeSessionRecord({ id })),
        registry().create(makeSessionRecord({ id })),
      ])
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
    })

    it('touch moves lastSeenAt forward', async () => {
      const record = makeSessionRecord()
      await registry().create(record)
      const later = new Date(record.lastSeenAt.getTime() + 61_000)
      await registry().touch(record.id, later)
      const found = await registry().find(record.id)
      expect(found?.lastSeenAt).toEqual(later)
      expect(found?.createdAt).toEqual(record.createdAt)
    })

    it('touch never moves lastSeenAt backwards', async () => {
      const record = makeSessionRecord()
      await registry().create(record)
      await registry().touch(record.id, new Date(record.lastSeenAt.getTime() - 5_000))
      expect((await registry().find(record.id))?.lastSeenAt).toEqual(record.lastSeenAt)
    })

    it('touch of an unknown or revoked id registers nothing', async () => {
      const unknown = randomId()
      await registry().touch(unknown, new Date())
      expect(await registry().find(unknown)).toBeUndefined()

      const record = makeSessionRecord()
      await registry().create(record)
      await registry().revoke(record)
      await registry().touch(record.id, new Date(record.lastSeenAt.getTime() + 1_000))
      expect(await registry().find(record.id)).toBeUndefined()
      expect(await registry().list(record.userId)).toEqual([])
    })

    it("lists a user's sessions newest first, and no one else's", async () => {
      const userId = randomId()
      const base = 1_750_000_000_000
      const older = makeSessionRecord({ userId, createdAt: new Date(base) })
      const newest = makeSessionRecord({ userId, createdAt: new Date(base + 2_000) })
      const middle = makeSessionRecord({ userId, createdAt: new Date(base + 1_000) })
      const someoneElse = makeSessionRecord({ createdAt: new Date(base + 1_500) })
      for (const record of [older, newest, someoneElse, middle]) await registry().create(record)
      expect(await registry().list(userId)).toEqual([newest, middle, older])
    })

    it('lists nothing for an unknown user', async () => {
      expect(await registry().list(randomId())).toEqual([])
    })

    it('refuses a revoked session: find returns undefined and list omits it', async () => {
      const userId = randomId()
      const revoked = makeSessionRecord({ userId })
      const kept = makeSessionRecord({ userId })
      await registry().create(revoked)
      await registry().create(kept)
      expect(await registry().revoke(revoked)).toBe(true)
      expect(await registry().find(revoked.id)).toBeUndefined()
      expect((await registry().list(userId)).map((record) => record.id)).toEqual([kept.id])
      expect(await registry().find(kept.id)).toEqual(kept)
    })

    it('revoke is idempotent: false for an unknown or already revoked id', async () => {
      const record = makeSessionRecord()
      await registry().create(record)
      expect(await registry().revoke(record)).toBe(true)
      expect(await registry().revoke(record)).toBe(false)
      expect(await registry().revoke({ id: randomId(), userId: record.userId })).toBe(false)
    })

    it("revoke refuses another user's session: false, and the session stays live", async () => {
      // revoke(id) took no owner, so a route passing a request's id ended anyone's session.
      const theirs = makeSessionRecord({ userId: `aBc-${randomId()}` })
      const mine = makeSessionRecord()
      await registry().create(theirs)
      await registry().create(mine)
      const strangers = [
        mine.userId,
        theirs.userId.toUpperCase(),
        theirs.userId.toLowerCase(),
        `${theirs.userId} `,
        ` ${theirs.userId}`,
        theirs.userId.slice(0, -1),
        '',
      ]
      for (const userId of strangers) {
        expect(await registry().revoke({ id: theirs.id, userId })).toBe(false)
      }
      expect(await registry().find(theirs.id)).toEqual(theirs)
      expect(await registry().list(theirs.userId)).toEqual([theirs])
      expect(await registry().find(mine.id)).toEqual(mine)
      expect(await registry().revoke(theirs)).toBe(true)
      expect(await registry().find(theirs.id)).toBeUndefined()
    })

    it('registers a revoked id again when asked to', async () => {
      const record = makeSessionRecord()
      await registry().create(record)
      await registry().revoke(record)
      const again = makeSessionRecord({ id: record.id })
      await registry().create(again)
      expect(await registry().find(record.id)).toEqual(again)
    })

    it('revokeAll revokes every session of the user but the one excepted, and counts them', async () => {
      const userId = randomId()
      const sessions = [1, 2, 3].map(() => makeSessionRecord({ userId }))
      const other = makeSessionRecord()
      for (const record of [...sessions, other]) await registry().create(record)
      const [current, ...rest] = sessions as [SessionRecord, ...SessionRecord[]]

      expect(await registry().revokeAll(userId, { except: current.id })).toBe(rest.length)
      for (const record of rest) expect(await registry().find(record.id)).toBeUndefined()
      expect(await registry().find(current.id)).toEqual(current)
      expect(await registry().find(other.id)).toEqual(other)
      expect((await registry().list(userId)).map((record) => record.id)).toEqual([current.id])

      expect(await registry().revokeAll(userId)).toBe(1)
      expect(await registry().list(userId)).toEqual([])
      expect(await registry().revokeAll(userId)).toBe(0)
    })

    it('revokeAll ignores an except that belongs to someone else', async () => {
      const userId = randomId()
      const mine = makeSessionRecord({ userId })
      const theirs = makeSessionRecord()
      await registry().create(mine)
      await registry().create(theirs)
      expect(await registry().revokeAll(userId, { except: theirs.id })).toBe(1)
      expect(await registry().find(theirs.id)).toEqual(theirs)
    })

    it('revokeAll returns 0 for an unknown user', async () => {
      expect(await registry().revokeAll(randomId())).toBe(0)
    })

    it('keeps what it stores apart from the objects callers pass in and get back', async () => {
      await assertNoAliasing(registry())
    })

    it("lists every one of a user's sessions created at once, and revokeAll ends them all", async () => {
      // A registry keeping a user's session ids in one list, read then written back, loses all
      // but one of these: the others stay live yet unlisted, and "log out everywhere" misses them.
      const userId = randomId()
      const sessions = Array.from({ length: 8 }, () => makeSessionRecord({ userId }))
      await Promise.all(sessions.map((record) => registry().create(record)))
      expect((await registry().list(userId)).map((record) => record.id).sort()).toEqual(
        sessions.map((record) => record.id).sort(),
      )
      expect(await registry().revokeAll(userId)).toBe(sessions.length)
      for (const record of sessions) expect(await registry().find(record.id)).toBeUndefined()
    })

    it('counts each session once when revokeAll and revoke race', async () => {
      const userId = randomId()
      const sessions = [1, 2, 3, 4, 5].map(() => makeSessionRecord({ userId }))
      for (const record of sessions) await registry().create(record)
      const [all, again, one] = await Promise.all([
        registry().revokeAll(userId),
        registry().revokeAll(userId),
        registry().revoke(sessions[0] as SessionRecord),
      ])
      expect(all + again + (one ? 1 : 0)).toBe(sessions.length)
      expect(await registry().list(userId)).toEqual([])
    })
  })
}

/**
 * A fresh random session id as the built-in session manager makes them (128 bits, base64url),
 * for tests.
 *
 * @example
 * ```ts
 * import { randomSessionId } from '@mortar/session/testing'
 *
 * await registry.find(randomSessionId()) // undefined
 * ```
 */
export function randomSessionId(): string {
  return randomBytes(16).toString('base64url')
}

const randomId = randomSessionId

/**
 * A valid {@link SessionRecord} for tests: a random id and user, times to the millisecond, an
 * ip and a user agent; `overrides` replace any field.
 *
 * @example
 * ```ts
 * import { makeSessionRecord } from '@mortar/session/testing'
 *
 * await registry.create(makeSessionRecord({ userId: 'user-1' }))
 * ```
 */
export function makeSessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const createdAt = new Date(1_760_000_000_000 + Math.floor(Math.random() * 1_000_000))
  return {
    id: randomSessionId(),
    userId: `user-${randomSessionId()}`,
    createdAt,
    lastSeenAt: new Date(createdAt.getTime() + 1_000),
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (conformance)',
    ...overrides,
  }
}
