import { describe, expect, it, vi } from 'vitest'
import type {
  Inbox,
  InboxChange,
  InboxItem,
  InboxVersionRange,
  VersionedInboxItem,
} from './inbox-store.js'
import { InboxStreamHub } from './inbox-stream.js'

const item = (id: string): InboxItem => ({
  id,
  recipientId: 'ada',
  type: 't',
  title: id,
  status: 'unread',
  createdAt: new Date(1_000),
})

/**
 * An inbox whose committed items are `stored` (by version) up to `version`, whose reads wait
 * for `gate` when one is set, and whose changes of this process are told through `tell`.
 */
function fakeInbox() {
  const listeners = new Set<(change: InboxChange) => void>()
  const state = {
    version: 0,
    stored: new Map<number, InboxItem>(),
    gate: undefined as Promise<void> | undefined,
  }
  const inbox = {
    versions: async (ids: readonly string[]) => {
      await state.gate
      return new Map(ids.map((id) => [id, state.version]))
    },
    added: async (ranges: readonly InboxVersionRange[]): Promise<VersionedInboxItem[]> => {
      await state.gate
      return ranges.flatMap((range) =>
        [...state.stored]
          .filter(([version]) => version > range.after && version <= range.upTo)
          .map(([version, stored]) => ({ item: stored, version })),
      )
    },
    onChanged: (listener: (change: InboxChange) => void) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    onDispose: () => () => {},
  } as unknown as Inbox
  return {
    inbox,
    state,
    /** Commits a change (an item, or none); `tell` when this process made it. */
    commit(added: InboxItem | undefined, tell: boolean) {
      state.version += 1
      if (added !== undefined) state.stored.set(state.version, added)
      const change = { recipientId: 'ada', version: state.version, item: added }
      if (tell) for (const listener of listeners) listener(change)
    },
  }
}

const limits = { perRecipient: 5, total: 5 }

describe('InboxStreamHub', () => {
  it('sends a change this process made while a stream catches up, after the pages it read before the change committed', async () => {
    const fake = fakeInbox()
    fake.commit(item('old'), false)
    let releasePage = () => {}
    fake.state.gate = new Promise<void>((resolve) => {
      releasePage = resolve
    })
    // No poll runs in this test: each interleaving is the one written here.
    const hub = new InboxStreamHub(fake.inbox, { pollMs: 3_600_000, onPollError: () => {} })
    const sent: string[] = []
    const subscription = hub.subscribe(
      'ada',
      0,
      (items) => sent.push(...items.map((entry) => entry.item.id)),
      () => {},
      limits,
    )
    // The catch-up read version 1 before "new" committed; it answers after new's change is told.
    fake.commit(item('new'), true)
    fake.state.gate = undefined
    releasePage()
    await vi.waitFor(() => expect(sent).toHaveLength(2))
    expect(sent).toEqual(['old', 'new'])
    if (typeof subscription === 'object') subscription.stop()
  })

  it('holds a change of this process behind another process’s, unread yet, then sends both in order, once', async () => {
    vi.useFakeTimers()
    try {
      const fake = fakeInbox()
      const hub = new InboxStreamHub(fake.inbox, { pollMs: 1_000, onPollError: () => {} })
      const sent: [string, number][] = []
      const subscription = hub.subscribe(
        'ada',
        0,
        (items) =>
          sent.push(...items.map((entry): [string, number] => [entry.item.id, entry.version])),
        () => {},
        limits,
      )
      await vi.advanceTimersByTimeAsync(0)
      fake.commit(item('afar'), false) // version 1, another process's
      fake.commit(undefined, true) // version 2: a mark read here
      fake.commit(item('here'), true) // version 3
      // Before version 1 is read, version 3 would be an item sent past a gap.
      expect(sent).toEqual([])
      await vi.advanceTimersByTimeAsync(1_000)
      expect(sent).toEqual([
        ['afar', 1],
        ['here', 3],
      ])
      expect(typeof subscription === 'object' && subscription.cursor()).toBe(3)
      // Told again (a late listener call) or read again by the next poll: never sent twice.
      fake.commit(item('next'), true)
      await vi.advanceTimersByTimeAsync(3_000)
      expect(sent.map(([id]) => id)).toEqual(['afar', 'here', 'next'])
      if (typeof subscription === 'object') subscription.stop()
    } finally {
      vi.useRealTimers()
    }
  })
})
