import { describe, expect, it, vi } from 'vitest'
import type { Inbox, InboxItem } from './inbox-store.js'
import { InboxStreamHub } from './inbox-stream.js'

const item = (id: string, at: number): InboxItem => ({
  id,
  recipientId: 'ada',
  type: 't',
  title: id,
  status: 'unread',
  createdAt: new Date(at),
})

describe('InboxStreamHub', () => {
  it('sends an item this process adds while a resumed stream catches up, after the pages it read before the item committed', async () => {
    const listeners = new Set<(added: InboxItem) => void>()
    let releasePage = () => {}
    const pageHeld = new Promise<void>((resolve) => {
      releasePage = resolve
    })
    // The catch-up's page is read before the item commits, and answers after its live event.
    const inbox = {
      since: async () => {
        await pageHeld
        return [item('old', 1_000)]
      },
      onAdded: (listener: (added: InboxItem) => void) => {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      onDispose: () => () => {},
    } as unknown as Inbox
    // No poll runs in this test: it would find the item again later.
    const hub = new InboxStreamHub(inbox, {
      pollMs: 3_600_000,
      now: () => 5_000,
      onPollError: () => {},
    })
    const sent: string[] = []
    const subscription = hub.subscribe(
      'ada',
      (items) => sent.push(...items.map((i) => i.id)),
      () => {},
      { perRecipient: 5, total: 5 },
      500,
    )
    for (const listener of listeners) listener(item('new', 5_000))
    releasePage()
    await vi.waitFor(() => expect(sent).toHaveLength(2))
    expect(sent).toEqual(['old', 'new'])
    if (typeof subscription === 'object') subscription.stop()
  })
})
