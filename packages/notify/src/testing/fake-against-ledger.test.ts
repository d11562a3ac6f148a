import { JOBS, transaction } from '@mortar/core'
import type { TestApp } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineDigest } from '../digest/define-digest.js'
import { DELIVERIES, NOTIFIER, PREFERENCES } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import type { CategoryOptions } from '../preferences/preference-policy.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { NotificationFake } from './notification-fake.js'

// The same random scenario through the real ledger (SQLite, its jobs drained) and through the
// fake: what each says went out, per recipient and notification, must be the same.

const categories: Record<string, CategoryOptions> = {
  security: { critical: true },
  orders: { required: true },
  marketing: { throttle: { limit: 2, windowMs: 86_400_000 } },
  news: {},
}
type Category = 'security' | 'orders' | 'marketing'

const news = defineDigest({
  key: 'news',
  category: 'news',
  schema: z.object({ n: z.number() }),
  window: { minutes: 60 },
  channels: ['sms'],
  toSms: (items) => ({ text: `${items.length} news` }),
})

/** A text message of a category, optionally keyed; `type` names the call, to compare by. */
class Text extends Notification {
  constructor(
    readonly type: string,
    readonly category: Category,
    readonly key: string | undefined,
  ) {
    super()
  }
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: this.type }
  }
}

/** An item of the `news` digest. */
class News extends Notification {
  readonly type = 'news.item'
  readonly digest
  constructor(
    n: number,
    readonly key: string | undefined,
  ) {
    super()
    this.digest = news.entry({ n })
  }
  via() {
    return [] as const
  }
}

interface Call {
  readonly to: number
  readonly kind: Category | 'news'
  readonly key: 'k1' | 'k2' | undefined
}

/** Calls in a transaction (or none), some in a savepoint, then a choice or a deletion. */
interface Group {
  readonly outer: 'none' | 'commit' | 'rollback'
  readonly inner: 'commit' | 'rollback'
  readonly before: readonly Call[]
  readonly inside: readonly Call[]
  /** After the calls, before the commit: between notify() and the send. */
  readonly optOut:
    | { readonly to: number; readonly category: 'marketing' | 'news' | '*' }
    | undefined
  readonly deletes: number | undefined
}

interface Scenario {
  readonly recipients: readonly {
    readonly phone: boolean
    readonly quiet: boolean
    readonly deleted: boolean
    readonly optOut: 'marketing' | 'news' | '*' | undefined
  }[]
  readonly groups: readonly Group[]
}

const RECIPIENTS = 2
// What a recipient may turn off: critical and required categories refuse an opt-out.
const category = fc.constantFrom<'marketing' | 'news' | '*'>('marketing', 'news', '*')
const call = fc.record<Call>({
  to: fc.nat(RECIPIENTS - 1),
  kind: fc.constantFrom('security', 'orders', 'marketing', 'marketing', 'news'),
  key: fc.constantFrom(undefined, undefined, 'k1', 'k2'),
})
const scenario = fc.record<Scenario>({
  recipients: fc.array(
    fc.record({
      phone: fc.constantFrom(true, true, true, false),
      quiet: fc.boolean(),
      deleted: fc.constantFrom(false, false, false, true),
      optOut: fc.option(category, { nil: undefined }),
    }),
    { minLength: RECIPIENTS, maxLength: RECIPIENTS },
  ),
  groups: fc.array(
    fc.record<Group>({
      outer: fc.constantFrom('none', 'commit', 'commit', 'rollback'),
      inner: fc.constantFrom('commit', 'rollback'),
      before: fc.array(call, { maxLength: 3 }),
      inside: fc.array(call, { maxLength: 3 }),
      optOut: fc.option(fc.record({ to: fc.nat(RECIPIENTS - 1), category }), { nil: undefined }),
      deletes: fc.option(fc.nat(RECIPIENTS - 1), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
})

class RolledBack extends Error {}

describe('NotificationFake against the ledger (SQLite, drained), random scenarios', () => {
  const sms = recordingChannel('sms', (recipient) => recipient.phone)
  const deleted = new Set<string>()
  const recipientExists = (id: string) => !deleted.has(id)
  let app: TestApp
  beforeAll(async () => {
    app = await startedNotifyTestApp(
      { channels: [sms], categories, digests: [news], recipientExists },
      'sqlite::memory:',
    )
  })
  afterAll(async () => {
    await app?.stop()
  })

  it('says sent exactly where the ledger sends', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(scenario, async ({ recipients, groups }) => {
        run += 1
        app.clock.set('2026-06-01T10:00:00Z')
        const preferences = app.resolve(PREFERENCES)
        const people: Recipient[] = recipients.map((r, index) => ({
          id: `r${run}-${index}`,
          ...(r.phone ? { phone: `+1555010${index}` } : {}),
          ...(r.quiet ? { quietHours: { start: '09:00', end: '11:00' }, timeZone: 'UTC' } : {}),
        }))
        for (const [index, r] of recipients.entries()) {
          const id = people[index]?.id ?? ''
          if (r.deleted) deleted.add(id)
          if (r.optOut !== undefined)
            await preferences.set(id, { category: r.optOut, channel: 'sms', enabled: false })
        }
        const fake = new NotificationFake({
          channels: [sms],
          categories,
          digests: [news],
          preferences,
          recipientExists,
          clock: app.clock,
        })
        const notifier = app.resolve(NOTIFIER)
        let n = 0
        const send = async (calls: readonly Call[]) => {
          for (const c of calls) {
            n += 1
            const to = people[c.to] as Recipient
            // Each call its own type, so that each is compared on its own; a key is shared.
            const notification =
              c.kind === 'news' ? new News(n, c.key) : new Text(`t${n}`, c.kind, c.key)
            await notifier.notify(to as never, notification as never)
            await fake.notify(to as never, notification as never)
          }
        }
        for (const group of groups) {
          // The fake sends at commit, as a worker that runs at once: a change after it reaches
          // neither. Not modelled: a change while the ledger holds a delivery past the commit
          // (quiet hours, a digest's window), which the fake decided at commit.
          const later = (to: number) =>
            recipients[to]?.quiet === true ||
            groups.some((g) =>
              [...g.before, ...g.inside].some((c) => c.to === to && c.kind === 'news'),
            )
          const between = async () => {
            if (group.optOut !== undefined && !later(group.optOut.to))
              await preferences.set(people[group.optOut.to]?.id ?? '', {
                category: group.optOut.category,
                channel: 'sms',
                enabled: false,
              })
            if (group.deletes !== undefined && !later(group.deletes))
              deleted.add(people[group.deletes]?.id ?? '')
          }
          if (group.outer === 'none') {
            // Outside a transaction the fake sends at once: no change comes between.
            await send([...group.before, ...group.inside])
            await app.resolve(JOBS).drain()
            continue
          }
          await transaction(async () => {
            await send(group.before)
            await transaction(
              async () => {
                await send(group.inside)
                if (group.inner === 'rollback') throw new RolledBack()
              },
              { propagation: 'savepoint' },
            ).catch((error: unknown) => {
              if (!(error instanceof RolledBack)) throw error
            })
            await between()
            if (group.outer === 'rollback') throw new RolledBack()
          }).catch((error: unknown) => {
            if (!(error instanceof RolledBack)) throw error
          })
          await app.resolve(JOBS).drain()
        }
        // The ledger's jobs, past quiet hours and the digest's window.
        for (let hour = 0; hour < 3; hour++) {
          await app.resolve(JOBS).drain()
          app.clock.advance(3_600_000)
        }
        await app.resolve(JOBS).drain()
        for (const person of people) {
          const ledger: Record<string, boolean> = {}
          for (const delivery of await app.resolve(DELIVERIES).list(person.id)) {
            const name = delivery.type.startsWith('digest.') ? 'news' : delivery.type
            ledger[name] = (ledger[name] ?? false) || delivery.status === 'sent'
          }
          const faked: Record<string, boolean> = {}
          for (const entry of fake.sent(Text, person.id)) faked[entry.notification.type] = true
          if (fake.sent(News, person.id).length > 0) faked.news = true
          const sent = (record: Record<string, boolean>) =>
            Object.keys(record)
              .filter((name) => record[name])
              .sort()
          expect(sent(faked), `${person.id}: the fake, against the ledger`).toEqual(sent(ledger))
        }
      }),
      { numRuns: 40 },
    )
  })
})
