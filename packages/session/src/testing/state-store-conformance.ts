import type { VitestApi } from '@mortar/core/testing'
import { FakeClock } from '@mortar/core/testing'
import { z } from 'zod'
import { StateConflictError, StateCorruptedError, StateTooLargeError } from '../errors.js'
import type { StateStore } from '../state/index.js'

/** What a state store conformance setup returns: the store, and how to release it. */
export interface StateStoreSubject {
  readonly store: StateStore
  /** Runs after the suite: drop the schema, close the pool. */
  dispose?(): void | Promise<void>
}

/** Options of {@link stateStoreConformance}. */
export interface StateStoreConformanceOptions {
  /** Set to skip the suite with a one-line notice saying why (an unset variable, say). */
  readonly skip?: string | undefined
}

const game = z.object({
  board: z.string().length(9),
  turn: z.enum(['x', 'o']).default('x'),
})

/**
 * Registers vitest blocks that check a {@link StateStore} against the contract: round trips,
 * versions, conflicts (stale versions, concurrent saves where exactly one wins), the size limit,
 * validation on put and on read, and expiry (`ttl`, `prune`). `setup` gets the {@link FakeClock} the store must stamp
 * `updatedAt` with, and must keep the default size limit (64 KiB). Tests use fresh owners, so
 * one shared table is fine. The first argument is vitest itself (see `VitestApi`): the kit does
 * not import it, so this entry loads without vitest.
 *
 * @example
 * ```ts
 * import { MemoryStateStore } from '@mortar/session'
 * import { stateStoreConformance } from '@mortar/session/testing'
 * import * as vitest from 'vitest'
 *
 * stateStoreConformance(vitest, 'memory', (clock) => new MemoryStateStore({ clock }))
 * ```
 */
export function stateStoreConformance(
  vitest: VitestApi,
  name: string,
  setup: (
    clock: FakeClock,
  ) => StateStore | StateStoreSubject | Promise<StateStore | StateStoreSubject>,
  options: StateStoreConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, expect, it } = vitest
  const skip = options.skip
  if (skip !== undefined) console.info(`[skipped] ${name} state store conformance: ${skip}`)

  // Skipped only when the caller's server is not configured (an unset MORTAR_TEST_* variable):
  // the reason is printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `${name} state store conformance${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    const clock = new FakeClock('2026-03-01T10:00:00.000Z')
    let subject: StateStoreSubject | undefined
    let counter = 0
    const state = (): StateStore => {
      if (subject === undefined) throw new Error('The conformance setup did not finish.')
      return subject.store
    }
    /** A fresh owner per test, so tests sharing one table never see each other's rows. */
    const owner = (): string => `owner-${++counter}-${Math.random().toString(36).slice(2)}`

    beforeAll(async () => {
      const made = await setup(clock)
      subject = 'store' in made ? made : { store: made }
    })

    afterAll(async () => {
      await subject?.dispose?.()
    })

    it('round-trips a value with version 1, stamped by the clock, then counts versions up', async () => {
      const games = state().namespace('games', game)
      const who = owner()
      clock.set('2026-03-01T10:00:00.123Z')
      const first = await games.put(who, 'current', { board: 'x........' })
      expect(first).toEqual({
        key: 'current',
        value: { board: 'x........', turn: 'x' },
        version: 1,
        updatedAt: new Date('2026-03-01T10:00:00.123Z'),
      })
      expect(await games.get(who, 'current')).toEqual(first)

      clock.advance(1_000)
      const second = await games.put(who, 'current', { board: 'xo.......', turn: 'x' })
      expect(second).toMatchObject({ version: 2, updatedAt: new Date('2026-03-01T10:00:01.123Z') })
      expect(await games.get(who, 'current')).toEqual(second)
    })

    it('returns undefined for a key never saved', async () => {
      expect(await state().namespace('games', game).get(owner(), 'nothing')).toBeUndefined()
    })

    it("lists an owner's entries of one namespace, by key", async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const prefs = state().namespace('preferences', z.object({ theme: z.string() }))
      await games.put(who, 'slot-b', { board: 'o........' })
      await games.put(who, 'slot-a', { board: 'x........' })
      await games.put(owner(), 'slot-c', { board: 'x........' })
      await prefs.put(who, 'slot-a', { theme: 'dark' })
      expect((await games.list(who)).map((entry) => [entry.key, entry.value.board])).toEqual([
        ['slot-a', 'x........'],
        ['slot-b', 'o........'],
      ])
      expect((await prefs.get(who, 'slot-a'))?.value).toEqual({ theme: 'dark' })
      expect(await games.list(owner())).toEqual([])
    })

    it('deletes an entry, returning whether there was one', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      await games.put(who, 'current', { board: 'x........' })
      expect(await games.delete(who, 'current')).toBe(true)
      expect(await games.get(who, 'current')).toBeUndefined()
      expect(await games.delete(who, 'current')).toBe(false)
    })

    it('refuses a delete with a stale expectedVersion as a conflict, keeping the entry', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      await games.put(who, 'current', { board: 'x........' })
      await games.put(who, 'current', { board: 'xo.......' })
      await expect(games.delete(who, 'current', { expectedVersion: 1 })).rejects.toBeInstanceOf(
        StateConflictError,
      )
      await expect(games.delete(who, 'current', { expectedVersion: 0 })).rejects.toMatchObject({
        code: 'E_STATE_CONFLICT',
        expectedVersion: 0,
        actualVersion: 2,
      })
      expect(await games.delete(who, 'current', { expectedVersion: 2 })).toBe(true)
      expect(await games.delete(who, 'current', { expectedVersion: 0 })).toBe(false)
      await expect(games.delete(who, 'current', { expectedVersion: 2 })).rejects.toBeInstanceOf(
        StateConflictError,
      )
    })

    it('expectedVersion 0 saves only when the entry is absent', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const first = await games.put(who, 'new', { board: 'x........' }, { expectedVersion: 0 })
      expect(first.version).toBe(1)
      await expect(
        games.put(who, 'new', { board: 'o........' }, { expectedVersion: 0 }),
      ).rejects.toMatchObject({
        code: 'E_STATE_CONFLICT',
        status: 409,
        expectedVersion: 0,
        actualVersion: 1,
      })
      expect((await games.get(who, 'new'))?.value.board).toBe('x........')
    })

    it('refuses a save with a stale version and keeps what the other writer saved', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const read = await games.put(who, 'current', { board: 'x........' })
      await games.put(who, 'current', { board: 'xo.......' }, { expectedVersion: read.version })
      await expect(
        games.put(who, 'current', { board: 'x.o......' }, { expectedVersion: read.version }),
      ).rejects.toMatchObject({ code: 'E_STATE_CONFLICT', expectedVersion: 1, actualVersion: 2 })
      expect((await games.get(who, 'current'))?.value.board).toBe('xo.......')
    })

    it('refuses a save expecting a version of an entry that does not exist', async () => {
      await expect(
        state()
          .namespace('games', game)
          .put(owner(), 'gone', { board: 'x........' }, { expectedVersion: 3 }),
      ).rejects.toMatchObject({ code: 'E_STATE_CONFLICT', expectedVersion: 3, actualVersion: 0 })
    })

    it('lets exactly one of many concurrent first saves (expectedVersion 0) win', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const boards = ['x........', '.x.......', '..x......', '...x.....', '....x....', '.....x...']
      const results = await Promise.allSettled(
        boards.map((board) => games.put(who, 'race', { board }, { expectedVersion: 0 })),
      )
      const won = results.filter((result) => result.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(StateConflictError)
      }
      const stored = await games.get(who, 'race')
      expect(stored?.version).toBe(1)
      expect(stored?.value.board).toBe(
        (won[0] as PromiseFulfilledResult<{ value: { board: string } }>).value.value.board,
      )
    })

    it('lets exactly one of many concurrent saves with the same expectedVersion win', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const base = await games.put(who, 'race', { board: '.........' })
      const boards = ['x........', '.x.......', '..x......', '...x.....', '....x....', '.....x...']
      const results = await Promise.allSettled(
        boards.map((board) => games.put(who, 'race', { board }, { expectedVersion: base.version })),
      )
      const won = results.filter((result) => result.status === 'fulfilled')
      expect(won).toHaveLength(1)
      const stored = await games.get(who, 'race')
      expect(stored?.version).toBe(2)
      expect(stored?.value.board).toBe(
        (won[0] as PromiseFulfilledResult<{ value: { board: string } }>).value.value.board,
      )
    })

    it('applies concurrent saves without a version one after another', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const saved = await Promise.all(
        ['x........', '.x.......', '..x......', '...x.....'].map((board) =>
          games.put(who, 'lww', { board }),
        ),
      )
      expect(saved.map((entry) => entry.version).sort()).toEqual([1, 2, 3, 4])
      expect((await games.get(who, 'lww'))?.version).toBe(4)
    })

    it('stores a value just under the 64 KiB default and refuses one over it with E_STATE_TOO_LARGE', async () => {
      const notes = state().namespace('notes', z.object({ text: z.string() }))
      const who = owner()
      const fits = { text: 'é'.repeat(32_000) } // 64 000 bytes of UTF-8, plus the JSON around it
      await notes.put(who, 'big', fits)
      expect((await notes.get(who, 'big'))?.value).toEqual(fits)

      const error = await notes
        .put(who, 'big', { text: 'é'.repeat(33_000) })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateTooLargeError)
      expect(error).toMatchObject({
        code: 'E_STATE_TOO_LARGE',
        status: 413,
        bytes: 66_011,
        limit: 65_536,
      })
      expect((await notes.get(who, 'big'))?.version).toBe(1)
    })

    it('applies a namespace size limit of its own', async () => {
      const tiny = state().namespace('tiny', z.string(), { maxBytes: 10 })
      await tiny.put(owner(), 'k', '12345678')
      await expect(tiny.put(owner(), 'k', '123456789')).rejects.toMatchObject({
        limit: 10,
        bytes: 11,
      })
    })

    it('validates a value on put with the namespace schema and stores nothing when it fails', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const error = await games.put(who, 'bad', { board: 'short' }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'E_VALIDATION', status: 422 })
      expect((error as { issues: { path: string }[] }).issues.map((issue) => issue.path)).toEqual([
        'board',
      ])
      expect(await games.get(who, 'bad')).toBeUndefined()
    })

    it('refuses on put a value whose JSON its own schema refuses (a Date, a bigint, a Set), storing nothing', async () => {
      // Accepted at the put, such a value was E_STATE_CORRUPTED at every read after it.
      const who = owner()
      const cases: readonly (readonly [string, z.ZodType, unknown])[] = [
        ['date', z.object({ at: z.date() }), { at: new Date(0) }],
        ['bigint', z.object({ n: z.bigint() }), { n: BigInt(1) }],
        ['set', z.object({ tags: z.set(z.string()) }), { tags: new Set(['a']) }],
        ['holes', z.object({ n: z.array(z.number().optional()) }), { n: [1, undefined] }],
      ]
      for (const [key, schema, value] of cases) {
        const space = state().namespace('json', schema)
        const error = await space.put(who, key, value).catch((e: unknown) => e)
        expect(error).toMatchObject({ code: 'E_VALIDATION', status: 422 })
        expect(await space.get(who, key)).toBeUndefined()
      }
      // A schema that reads its own JSON back stores the same kind of value.
      const dates = state().namespace('json', z.object({ at: z.coerce.date() }))
      await dates.put(who, 'coerced', { at: new Date(0) })
      expect((await dates.get(who, 'coerced'))?.value).toEqual({ at: new Date(0) })
    })

    it('reports stored data that no longer fits the schema as E_STATE_CORRUPTED, in get and list', async () => {
      const who = owner()
      await state()
        .namespace('profile', z.object({ name: z.string() }))
        .put(who, 'me', { name: 'Ada' })
      const stricter = state().namespace('profile', z.object({ name: z.string(), age: z.number() }))
      const error = await stricter.get(who, 'me').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StateCorruptedError)
      expect(error).toMatchObject({ code: 'E_STATE_CORRUPTED', status: 500, paths: ['age'] })
      expect(JSON.stringify((error as StateCorruptedError).details)).not.toContain('Ada')
      await expect(stricter.list(who)).rejects.toBeInstanceOf(StateCorruptedError)
    })

    it('refuses an empty or over-long owner or key as a validation error', async () => {
      const games = state().namespace('games', game)
      await expect(games.get('', 'k')).rejects.toMatchObject({ code: 'E_VALIDATION' })
      await expect(games.list('')).rejects.toMatchObject({ code: 'E_VALIDATION' })
      await expect(
        games.put(owner(), 'k'.repeat(256), { board: 'x........' }),
      ).rejects.toMatchObject({ code: 'E_VALIDATION' })
      const longest = 'k'.repeat(255)
      const who = owner()
      await games.put(who, longest, { board: 'x........' })
      expect((await games.get(who, longest))?.key).toBe(longest)
    })

    it('refuses an owner or key with a lone surrogate, which the database would store as U+FFFD', async () => {
      // 'slot\ud800' and 'slot\udfff' were one row in SQL: a put of one replaced the other.
      const games = state().namespace('games', game)
      const who = owner()
      for (const unit of ['\ud800', '\udbff', '\udc00', '\udfff']) {
        await expect(games.put(who, `slot${unit}`, { board: 'x........' })).rejects.toMatchObject({
          code: 'E_VALIDATION',
        })
        await expect(games.get(who, `slot${unit}`)).rejects.toMatchObject({ code: 'E_VALIDATION' })
        await expect(games.list(`${who}${unit}`)).rejects.toMatchObject({ code: 'E_VALIDATION' })
        await expect(games.delete(who, `slot${unit}`)).rejects.toMatchObject({
          code: 'E_VALIDATION',
        })
      }
      // A pair is one character: kept as it is.
      await games.put(who, 'slot\ud83d\ude00', { board: 'x........' })
      expect((await games.get(who, 'slot\ud83d\ude00'))?.key).toBe('slot\ud83d\ude00')
      expect(await games.get(who, 'slot\ufffd')).toBeUndefined()
    })

    it('keeps keys apart that differ only in letter case', async () => {
      const who = owner()
      const prefs = state().namespace('preferences', z.string())
      await prefs.put(who, 'Theme', 'dark', { expectedVersion: 0 })
      await prefs.put(who, 'theme', 'light', { expectedVersion: 0 })
      expect((await prefs.get(who, 'Theme'))?.value).toBe('dark')
      expect((await prefs.get(who, 'theme'))?.value).toBe('light')
    })

    it('reads an entry past its ttl as absent in get and list; each save with a ttl extends it', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      await games.put(who, 'short', { board: 'x........' }, { ttl: 60 })
      await games.put(who, 'forever', { board: 'o........' })
      clock.advance(59_999)
      expect((await games.get(who, 'short'))?.version).toBe(1)
      await games.put(who, 'short', { board: 'xo.......' }, { ttl: 60 })
      clock.advance(59_999)
      expect((await games.get(who, 'short'))?.version).toBe(2)
      clock.advance(1)
      expect(await games.get(who, 'short')).toBeUndefined()
      expect((await games.list(who)).map((entry) => entry.key)).toEqual(['forever'])
      expect(await games.delete(who, 'short')).toBe(false)
    })

    it('never brings an expired entry back: a save expecting its version is a conflict', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const read = await games.put(who, 'current', { board: 'x........' }, { ttl: 1 })
      clock.advance(1_000)
      await expect(
        games.put(who, 'current', { board: 'xo.......' }, { expectedVersion: read.version }),
      ).rejects.toMatchObject({ code: 'E_STATE_CONFLICT', expectedVersion: 1, actualVersion: 0 })
      await expect(
        games.delete(who, 'current', { expectedVersion: read.version }),
      ).rejects.toBeInstanceOf(StateConflictError)
      expect(await games.get(who, 'current')).toBeUndefined()
      // Absent, so a first save takes the key again, from version 1.
      const again = await games.put(who, 'current', { board: 'o........' }, { expectedVersion: 0 })
      expect(again.version).toBe(1)
      expect(await games.get(who, 'current')).toEqual(again)
      // A save without a ttl clears it.
      await games.put(who, 'current', { board: 'ox.......' }, { ttl: 1 })
      await games.put(who, 'current', { board: 'oxx......' })
      clock.advance(86_400_000)
      expect((await games.get(who, 'current'))?.version).toBe(3)
    })

    it('applies a ttl given with expectedVersion as one given without, and clears it when omitted', async () => {
      // A store may write conditional saves by another path (an UPDATE … WHERE version): the
      // shop's cart saves that way, and a path that dropped the ttl kept carts for good.
      const who = owner()
      const games = state().namespace('games', game)
      const first = await games.put(
        who,
        'cart',
        { board: 'x........' },
        { expectedVersion: 0, ttl: 60 },
      )
      const second = await games.put(
        who,
        'cart',
        { board: 'xo.......' },
        { expectedVersion: first.version, ttl: 60 },
      )
      clock.advance(60_000)
      expect(await games.get(who, 'cart')).toBeUndefined()
      const again = await games.put(
        who,
        'cart',
        { board: 'o........' },
        { expectedVersion: 0, ttl: 60 },
      )
      expect(again.version).toBe(1)
      expect(second.version).toBe(2)
      await games.put(who, 'cart', { board: 'ox.......' }, { expectedVersion: again.version })
      clock.advance(86_400_000)
      expect((await games.get(who, 'cart'))?.version).toBe(2)
    })

    it("keeps every one of an owner's concurrent saves to different keys", async () => {
      // A store holding an owner's entries as one document, read then written back, loses all
      // but the last of these.
      const who = owner()
      const games = state().namespace('games', game)
      const keys = Array.from({ length: 8 }, (_, index) => `slot-${index}`)
      await Promise.all(keys.map((key) => games.put(who, key, { board: 'x........' })))
      expect((await games.list(who)).map((entry) => entry.key)).toEqual(keys)
      await Promise.all(keys.map((key) => games.delete(who, key)))
      expect(await games.list(who)).toEqual([])
    })

    it('prune deletes the expired entries of every namespace and keeps the rest', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      const prefs = state().namespace('preferences', z.string())
      // Entries expired by earlier tests go first, so the counts below are this test's.
      await state().prune()
      await games.put(who, 'expired', { board: 'x........' }, { ttl: 10 })
      await prefs.put(who, 'expired', 'dark', { ttl: 5 })
      await games.put(who, 'live', { board: 'o........' }, { ttl: 30 })
      await prefs.put(who, 'forever', 'light')
      clock.advance(10_000)
      expect(await state().prune()).toBe(2)
      expect(await state().prune()).toBe(0)
      expect((await games.list(who)).map((entry) => entry.key)).toEqual(['live'])
      expect((await prefs.list(who)).map((entry) => entry.key)).toEqual(['forever'])
      clock.advance(20_000)
      expect(await state().prune()).toBe(1)
    })

    it('refuses a ttl that is not a positive number of seconds, saving nothing', async () => {
      const who = owner()
      const games = state().namespace('games', game)
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(games.put(who, 'k', { board: 'x........' }, { ttl })).rejects.toBeInstanceOf(
          RangeError,
        )
      }
      expect(await games.get(who, 'k')).toBeUndefined()
      // With a stale version too: the ttl is refused as such, not reported as a conflict.
      await expect(
        games.put(who, 'k', { board: 'x........' }, { ttl: 0, expectedVersion: 3 }),
      ).rejects.toBeInstanceOf(RangeError)
    })

    it('refuses a bad namespace name or size limit at once', () => {
      expect(() => state().namespace('a/b', z.string())).toThrow(TypeError)
      expect(() => state().namespace('', z.string())).toThrow(TypeError)
      expect(() => state().namespace('x'.repeat(101), z.string())).toThrow(TypeError)
      expect(() => state().namespace('ok', z.string(), { maxBytes: 0 })).toThrow(RangeError)
    })
  })
}
