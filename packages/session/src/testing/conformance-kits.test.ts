import type { VitestApi } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { checkRegistryText } from '../registry/registry-text.js'
import type { SessionOwner, SessionRecord, SessionRegistry } from '../registry/session-registry.js'
import { MemoryStateStore } from '../state/memory-state-store.js'
import type {
  StateNamespace,
  StateNamespaceOptions,
  StatePutOptions,
  StateStore,
} from '../state/state-store.js'
import { sessionRegistryConformance } from './session-registry-conformance.js'
import { stateStoreConformance } from './state-store-conformance.js'

/** Runs a kit's cases outside vitest's own collection and returns the titles of those that fail. */
async function failingCases(register: (api: VitestApi) => void): Promise<string[]> {
  return [...(await failures(register)).keys()]
}

/** The message of each failing case, by title. */
async function failures(register: (api: VitestApi) => void): Promise<Map<string, string>> {
  const cases: [string, () => Promise<void>][] = []
  const before: (() => Promise<void>)[] = []
  const after: (() => Promise<void>)[] = []
  const group = Object.assign((_title: string, body: () => void) => body(), {
    skipIf: () => group,
  })
  register({
    describe: group,
    it: (title: string, body: () => Promise<void>) => cases.push([title, body]),
    expect,
    beforeAll: (hook: () => Promise<void>) => before.push(hook),
    afterAll: (hook: () => Promise<void>) => after.push(hook),
  } as unknown as VitestApi)
  for (const hook of before) await hook()
  const failed = new Map<string, string>()
  for (const [title, body] of cases) {
    await Promise.resolve()
      .then(body)
      .catch((error: unknown) => failed.set(title, String((error as Error).message)))
  }
  for (const hook of after) await hook()
  return failed
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

// Keeps each user's session ids in one list, read and written back across an await (a naive
// GET and SET of a JSON list): of concurrent creates for one user, one survives in the list.
class ReadModifyWriteRegistry implements SessionRegistry {
  readonly #lists = new Map<string, readonly string[]>()
  readonly #records = new MemorySessionRegistry()
  async create(record: SessionRecord): Promise<void> {
    await this.#records.create(record)
    const ids = this.#lists.get(record.userId) ?? []
    await tick()
    this.#lists.set(record.userId, [...ids, record.id])
  }
  find(id: string) {
    return this.#records.find(id)
  }
  touch(id: string, at: Date) {
    return this.#records.touch(id, at)
  }
  async list(userId: string) {
    const ids = new Set(this.#lists.get(userId))
    return (await this.#records.list(userId)).filter((record) => ids.has(record.id))
  }
  revoke(session: SessionOwner) {
    return this.#records.revoke(session)
  }
  revokeAll(userId: string, options?: { readonly except?: string }) {
    return this.#records.revokeAll(userId, options)
  }
}

// Keys records by the first 8 characters of their id: another session's id with that prefix
// finds this one.
class PrefixKeyedRegistry extends MemorySessionRegistry {
  readonly #ids = new Map<string, string>()
  override async create(record: SessionRecord): Promise<void> {
    await super.create(record)
    this.#ids.set(record.id.slice(0, 8), record.id)
  }
  override async find(id: string) {
    checkRegistryText({ id })
    const stored = this.#ids.get(id.slice(0, 8))
    return stored === undefined ? undefined : super.find(stored)
  }
}

// A read cache that touch and revoke clear and revokeAll forgets: "log out everywhere" leaves
// every session read before it live.
class StaleCacheRegistry extends MemorySessionRegistry {
  readonly #cache = new Map<string, SessionRecord>()
  override async find(id: string) {
    const cached = this.#cache.get(id)
    if (cached !== undefined) return clone(cached)
    const record = await super.find(id)
    if (record !== undefined) this.#cache.set(id, clone(record))
    return record
  }
  override touch(id: string, at: Date) {
    this.#cache.delete(id)
    return super.touch(id, at)
  }
  override revoke(session: SessionOwner) {
    this.#cache.delete(session.id)
    return super.revoke(session)
  }
}

// Checks every text but the user id of list(): the one call a user's lone surrogate gets through.
class LenientListRegistry extends MemorySessionRegistry {
  override async list(userId: string) {
    return super.list(userId.replace(/[\ud800-\udfff]/g, '\ufffd'))
  }
}

function clone(record: SessionRecord): SessionRecord {
  return {
    ...record,
    createdAt: new Date(record.createdAt.getTime()),
    lastSeenAt: new Date(record.lastSeenAt.getTime()),
  }
}

type Change = <T, I>(namespace: StateNamespace<T, I>) => Partial<StateNamespace<T, I>>

function changed<T, I>(namespace: StateNamespace<T, I>, change: Change): StateNamespace<T, I> {
  return {
    name: namespace.name,
    get: (owner, key) => namespace.get(owner, key),
    put: (owner, key, value, options) => namespace.put(owner, key, value, options),
    delete: (owner, key, options) => namespace.delete(owner, key, options),
    list: (owner) => namespace.list(owner),
    ...change(namespace),
  }
}

/** A store whose namespaces pass every call to the memory store's through `change`. */
function brokenStore(inner: MemoryStateStore, change: Change): StateStore {
  return {
    namespace: <S extends z.ZodType>(name: string, schema: S, options?: StateNamespaceOptions) =>
      changed(inner.namespace(name, schema, options), change),
    prune: () => inner.prune(),
  }
}

describe('the conformance kits on broken adapters', () => {
  it('fail a registry that loses concurrent creates of one user', async () => {
    const failed = await failingCases((api) =>
      sessionRegistryConformance(api, 'lossy', () => new ReadModifyWriteRegistry()),
    )
    expect(failed).toEqual([
      "lists every one of a user's sessions created at once, and revokeAll ends them all",
    ])
  })

  it("fail a registry that answers with another session's record", async () => {
    const failed = await failingCases((api) =>
      sessionRegistryConformance(api, 'prefix-keyed', () => new PrefixKeyedRegistry()),
    )
    expect(failed).toEqual([
      "never answers with another session's record, whose id shares all but its end",
    ])
  })

  it('name the call that let a lone surrogate through', async () => {
    const failed = await failures((api) =>
      sessionRegistryConformance(api, 'lenient list', () => new LenientListRegistry()),
    )
    expect([...failed]).toEqual([
      [
        'refuses ids, users and fields with a lone surrogate, which SQL and Redis would store as U+FFFD',
        "list() of a userId with a lone surrogate resolved: it must reject with E_VALIDATION (core's ValidationError)",
      ],
    ])
  })

  it('fail a registry whose read cache ignores revokeAll', async () => {
    const failed = await failingCases((api) =>
      sessionRegistryConformance(api, 'stale cache', () => new StaleCacheRegistry()),
    )
    expect(failed).toEqual([
      'forgets a session once revoked, even one read just before (no stale read cache)',
    ])
  })

  it('fail a state store that drops the ttl of a save with expectedVersion', async () => {
    const failed = await failingCases((api) =>
      stateStoreConformance(api, 'ttl-less', (clock) =>
        brokenStore(new MemoryStateStore({ clock }), (namespace) => ({
          put: (owner, key, value, options: StatePutOptions = {}) =>
            namespace.put(
              owner,
              key,
              value,
              options.expectedVersion === undefined ? options : { ...options, ttl: undefined },
            ),
        })),
      ),
    )
    expect(failed).toContain(
      'applies a ttl given with expectedVersion as one given without, and clears it when omitted',
    )
  })

  it("fail a state store that writes an owner's entries back as one document", async () => {
    const failed = await failingCases((api) =>
      stateStoreConformance(api, 'one document', (clock) =>
        brokenStore(new MemoryStateStore({ clock }), (namespace) => ({
          // Writes back the keys it read before the await: those saved meanwhile are lost.
          async put(owner, key, value, options) {
            const read = new Set((await namespace.list(owner)).map((entry) => entry.key))
            const saved = await namespace.put(owner, key, value, options)
            await tick()
            for (const entry of await namespace.list(owner)) {
              if (entry.key !== key && !read.has(entry.key))
                await namespace.delete(owner, entry.key)
            }
            return saved
          },
        })),
      ),
    )
    expect(failed).toEqual(["keeps every one of an owner's concurrent saves to different keys"])
  })
})
