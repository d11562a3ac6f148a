import {
  createLogger,
  DATABASE,
  EVENT_BUS,
  JOBS,
  type SuspiciousActivity,
  suspiciousActivitySchema,
  transaction,
  UnauthorizedError,
} from '@mortar/core'
import {
  createTestApp,
  FakeClock,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { NotifyConfigError } from '../errors.js'
import { DELIVERIES } from '../module/notify-tokens.js'
import { notifyModule } from '../module/notify-module.js'
import type { Notifier } from '../notification/notifier.js'
import type { AdminAlert, Alert, AlertNotice } from './admin-alert.js'
import { Alerts } from './alerts.js'
import { ALERTS, alertsModule } from './alerts-module.js'
import { ProcessMonitor, type ProcessReading } from './process-monitor.js'

const COOLDOWN_MS = 600_000

function lockout(account: string): SuspiciousActivity {
  return {
    kind: 'login_lockout',
    scope: 'account',
    account,
    lockouts: 1,
    lockedUntil: '2026-06-01T10:15:00.000Z',
    at: '2026-06-01T10:00:00.000Z',
  }
}

describe('alertsModule', () => {
  const mailbox = devMailbox()
  let app: TestApp

  // The monitor's limits are tiny so that a test trips them: heap in use is always over 1 byte.
  beforeAll(async () => {
    app = createTestApp({
      database: 'sqlite::memory:',
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [
        notifyModule({
          channels: [mailChannel({ from: 'Shop <shop@example.com>', transport: mailbox })],
          // Every hour is quiet: alerts still go out at once (their category is critical).
          quietHours: { start: '00:00', end: '23:59' },
        }),
        alertsModule({
          admins: [{ id: 'ops', email: 'ops@example.com' }],
          cooldownMs: COOLDOWN_MS,
          checkEveryMs: 20,
          monitor: { heapUsedBytes: 1, eventLoopDelayMs: 150 },
        }),
      ],
    })
    await app.migrate()
    app.clock.set('2026-06-01T10:00:00Z')
    await app.start()
    app.resolve(EVENT_BUS).define('security.suspicious_activity', suspiciousActivitySchema)
  })
  afterAll(() => app.stop())
  beforeEach(() => mailbox.clear())

  const subjects = () => mailbox.messages().map((mail) => mail.subject)
  async function mailTo(pattern: RegExp): Promise<string> {
    for (let i = 0; i < 250; i++) {
      await app.resolve(JOBS).drain()
      const subject = subjects().find((s) => pattern.test(s))
      if (subject !== undefined) return subject
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`no mail matching ${pattern}; got ${JSON.stringify(subjects())}`)
  }

  it('alerts the admins when the heap is over its configured limit, ignoring quiet hours', async () => {
    const subject = await mailTo(/Heap in use over its limit/)
    expect(subject).toMatch(/^\[critical\] Heap in use over its limit: \d/)
    const mail = mailbox.messages().find((m) => m.subject === subject)
    expect(mail?.to).toBe('ops@example.com')
    expect(mail?.text).toContain('alert: process.heap')
    const rows = await app.resolve(DELIVERIES).list('ops')
    expect(rows.some((row) => row.type === 'mortar.alert' && row.status === 'sent')).toBe(true)
  })

  it('alerts on event-loop delay over its limit, then says it resolved once the loop is free', async () => {
    const end = Date.now() + 400
    while (Date.now() < end) {
      // block the loop, as a synchronous hot path would
    }
    await mailTo(/^\[resolved\] Event-loop delay over its limit/)
    const raised = subjects().filter((s) =>
      s.startsWith('[warning] Event-loop delay over its limit'),
    )
    expect(raised).toHaveLength(1)
    expect(Number(/(\d+) ms/.exec(raised[0] ?? '')?.[1])).toBeGreaterThan(150)
  })

  it('collapses a storm of suspicious activity into one notice now and one count at the cooldown end', async () => {
    const bus = app.resolve(EVENT_BUS)
    for (let i = 0; i < 50; i++)
      await bus.publish('security.suspicious_activity', lockout(`user${i}`))
    expect(await mailTo(/Login lockout/)).toBe('[warning] Login lockout of account user0')
    // Within the cooldown: nothing more, however many checks run.
    await new Promise((resolve) => setTimeout(resolve, 100))
    await app.resolve(JOBS).drain()
    expect(subjects().filter((s) => s.includes('Login lockout'))).toHaveLength(1)

    app.clock.advance(COOLDOWN_MS)
    expect(await mailTo(/raised 49 more times/)).toBe(
      '[warning] Login lockout of account user49 (raised 49 more times since 2026-06-01T10:00:00.000Z)',
    )
    expect(subjects().filter((s) => s.includes('Login lockout'))).toHaveLength(2)
  })

  it('refuses a malformed suspicious-activity event before it raises anything', async () => {
    const bus = app.resolve(EVENT_BUS)
    await expect(
      bus.publish('security.suspicious_activity', {
        kind: 'nope',
      } as unknown as SuspiciousActivity),
    ).rejects.toMatchObject({ code: 'E_VALIDATION' })
  })

  it('sends a resolved notice for an announced key, and nothing for a key never raised', async () => {
    const alerts = app.resolve(ALERTS)
    await alerts.resolve('payments.never-raised')
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    await alerts.resolve('payments.down', 'Payments go through again.')
    await mailTo(/\[resolved\] Payment provider down/)
    expect(
      subjects()
        .filter((s) => s.includes('Payment'))
        .sort(),
    ).toEqual(['[critical] Payment provider down', '[resolved] Payment provider down'])
    const resolved = mailbox.messages().find((m) => m.subject.startsWith('[resolved]'))
    expect(resolved?.text).toContain('Payments go through again.')
    await expect(alerts.raise({ key: '', title: 'x' })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
  })

  it('still alerts when raised inside a transaction that rolls back (a failed login)', async () => {
    await expect(
      transaction(async () => {
        await app.resolve(ALERTS).raise({ key: 'inside.rollback', title: 'Raised in a rollback' })
        throw new UnauthorizedError('Wrong password.')
      }),
    ).rejects.toThrow('Wrong password.')
    await app.resolve(ALERTS).settled()
    expect(await mailTo(/Raised in a rollback/)).toBe('[critical] Raised in a rollback')
  })

  it('refuses options it cannot work with', () => {
    expect(() => alertsModule({ admins: [] })).toThrow(NotifyConfigError)
    expect(() => alertsModule({ admins: [{ id: 'ops' }], channels: ['fax' as never] })).toThrow(
      NotifyConfigError,
    )
    expect(() => alertsModule({ admins: [{ id: 'ops' }], monitor: { rssBytes: -1 } })).toThrow(
      NotifyConfigError,
    )
    // An admin notify() refuses: every notice to them would be lost, logged at its write.
    for (const admin of [{ id: '' }, { id: 'ops', timeZone: 'Mars/Olympus' }, { id: 'route:x' }]) {
      expect(() =>
        alertsModule({ admins: [{ id: 'ok', email: 'ok@example.com' }, admin] }),
      ).toThrow(/alertsModule: admins\[1\]: notify\(\): the recipient's (id|timeZone)/)
    }
  })
})

describe('ProcessMonitor', () => {
  it('raises once when a reading crosses its limit and resolves below 90% of it', async () => {
    const events: string[] = []
    const sink = {
      raise: async (alert: Alert) => void events.push(`raise ${alert.key}`),
      resolve: async (key: string) => void events.push(`resolve ${key}`),
    }
    let reading: ProcessReading = { heapUsedBytes: 50, rssBytes: 50, eventLoopDelayMs: 1 }
    const monitor = new ProcessMonitor(
      { heapUsedBytes: 100, rssBytes: 100, eventLoopDelayMs: 100 },
      sink,
      () => reading,
    )
    await monitor.check()
    reading = { ...reading, rssBytes: 120 }
    await monitor.check()
    await monitor.check()
    reading = { ...reading, rssBytes: 95 } // under the limit but not under 90%: still over
    await monitor.check()
    reading = { ...reading, rssBytes: 80 }
    await monitor.check()
    await monitor.check()
    expect(events).toEqual(['raise process.rss', 'resolve process.rss'])
  })
})

describe('Alerts cooldown', () => {
  it('counts raises of a key that cleared within the cooldown into one notice saying so', async () => {
    const mailbox = devMailbox()
    const app = createTestApp({
      database: 'sqlite::memory:',
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [
        notifyModule({ channels: [mailChannel({ from: 'a@example.com', transport: mailbox })] }),
        alertsModule({ admins: [{ id: 'ops', email: 'ops@example.com' }], monitor: false }),
      ],
    })
    await app.migrate()
    app.clock.set('2026-06-01T10:00:00Z')
    await app.start()
    try {
      const alerts = app.resolve(ALERTS)
      await alerts.raise({ key: 'disk', title: 'Disk full' })
      await alerts.resolve('disk')
      // Flapping within the cooldown: counted, not sent each time.
      for (let i = 0; i < 3; i++) {
        await alerts.raise({ key: 'disk', title: 'Disk full' })
        await alerts.resolve('disk')
      }
      app.clock.advance(15 * 60_000)
      await alerts.flushDue()
      await alerts.settled()
      await app.resolve(JOBS).drain()
      const sent = mailbox.messages().map((mail) => mail.subject)
      expect(sent).toHaveLength(3)
      expect(sent).toContain('[critical] Disk full')
      expect(sent).toContain('[resolved] Disk full')
      expect(sent).toContain(
        '[critical] Disk full (raised 3 more times since 2026-06-01T10:00:00.000Z)',
      )
      expect(mailbox.messages().find((m) => m.subject.includes('3 more'))?.text).toContain(
        'It has cleared since.',
      )
    } finally {
      await app.stop()
    }
  })
})

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `Alerts while the database is down on ${engine.title}`,
    () => {
      if (engine.skip) console.info(engine.skip)

      it('writes a notice whose write failed again at the next check: the first notice of an incident is not lost', async () => {
        const database = await privateDatabaseUrl(engine)
        const mailbox = devMailbox()
        const app = createTestApp({
          database: database.url,
          logger: createLogger({ level: 'silent' }),
          jobs: { workers: false },
          modules: [
            notifyModule({
              channels: [mailChannel({ from: 'a@example.com', transport: mailbox })],
            }),
            alertsModule({ admins: [{ id: 'ops', email: 'ops@example.com' }], monitor: false }),
          ],
        })
        await app.migrate()
        app.clock.set('2026-06-01T10:00:00Z')
        await app.start()
        const db = app.resolve(DATABASE).root
        const rename = (from: string, to: string) =>
          sql`alter table ${sql.table(from)} rename to ${sql.table(to)}`.execute(db)
        try {
          const alerts = app.resolve(ALERTS)
          // The ledger cannot be written: its table is away.
          await rename('mortar_delivery', 'mortar_delivery_away')
          await alerts.raise({ key: 'db.down', title: 'Database unreachable' })
          await alerts.raise({ key: 'db.down', title: 'Database unreachable' }) // in its cooldown
          await alerts.settled()
          await rename('mortar_delivery_away', 'mortar_delivery')
          await alerts.flushDue()
          await alerts.settled()
          await app.resolve(JOBS).drain()
          expect(mailbox.messages().map((mail) => mail.subject)).toEqual([
            '[critical] Database unreachable',
          ])
          // The raise counted in the cooldown goes out at its end, as it would have.
          app.clock.advance(15 * 60_000)
          await alerts.flushDue()
          await alerts.settled()
          await app.resolve(JOBS).drain()
          expect(mailbox.messages().map((mail) => mail.subject)).toContain(
            '[critical] Database unreachable (raised 1 more time since 2026-06-01T10:00:00.000Z)',
          )
        } finally {
          await app.stop()
          await database.drop()
        }
      })
    },
  )
}

describe('Alerts under many keys', () => {
  function recordingAlerts(down: { value: boolean } = { value: false }) {
    const clock = new FakeClock('2026-06-01T10:00:00Z')
    const notices: AlertNotice[] = []
    const notifier: Notifier = {
      notify: async (_recipients, notification) => {
        if (down.value) throw new Error('connect ECONNREFUSED')
        notices.push((notification as unknown as AdminAlert).notice)
        return { deliveries: [] }
      },
    }
    const alerts = new Alerts({
      notifier,
      admins: [{ id: 'ops', email: 'ops@example.com' }],
      channels: ['mail'],
      cooldownMs: COOLDOWN_MS,
      clock,
      logger: createLogger({ level: 'silent' }),
    })
    return { alerts, clock, notices }
  }

  /**
   * Raises 'payments.down' (raised twice before) once more, and expects the storm it counted to
   * go out as one notice with that raise, after the first raise's.
   */
  async function expectStormSentWithRaise(alerts: Alerts, notices: readonly AlertNotice[]) {
    await alerts.raise({ key: 'payments.down', title: 'Payment provider still down' })
    await alerts.settled()
    expect(notices.map((n) => `${n.state} ${n.count} ${n.alert.title}`)).toEqual([
      'raised 1 Payment provider down',
      'repeated 2 Payment provider still down',
    ])
  }

  it('collapses a storm of distinct keys into one counted notice past the keys it tracks', async () => {
    const { alerts, clock, notices } = recordingAlerts()
    for (let i = 0; i < 1_500; i++) await alerts.raise({ key: `user.${i}`, title: `User ${i}` })
    await alerts.settled()
    expect(notices).toHaveLength(1_001)
    expect(notices.at(-1)).toMatchObject({
      state: 'raised',
      alert: { key: 'mortar.alerts.overflow' },
    })
    clock.advance(COOLDOWN_MS)
    await alerts.flushDue()
    await alerts.settled()
    expect(notices.at(-1)).toMatchObject({
      state: 'repeated',
      count: 499,
      alert: { key: 'mortar.alerts.overflow', detail: expect.stringContaining('user.1499') },
    })
  })

  it('sends a storm counted when its cooldown ended before the next check as one notice with the raise that ends it', async () => {
    const { alerts, clock, notices } = recordingAlerts()
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    clock.advance(COOLDOWN_MS)
    // Raised again before a check sent the count: before, a 'repeated' notice of one and a
    // 'raised' one went out at once, two messages for one storm.
    await expectStormSentWithRaise(alerts, notices)
    // It starts a cooldown of its own: the next raise within it is counted.
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    await alerts.flushDue()
    await alerts.settled()
    expect(notices).toHaveLength(2)
  })

  it('announces a storm at once when the clock was set back, instead of counting it until the clock catches up', async () => {
    const { alerts, clock, notices } = recordingAlerts()
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    // An NTP step back of a day: the last notice now lies in the future.
    clock.set('2026-05-31T10:00:00Z')
    await expectStormSentWithRaise(alerts, notices)
    // The cooldown runs again from then, on the clock as it now reads.
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    clock.advance(COOLDOWN_MS - 1)
    await alerts.flushDue()
    await alerts.settled()
    expect(notices).toHaveLength(2)
    clock.advance(1)
    await alerts.flushDue()
    await alerts.settled()
    expect(notices.at(-1)).toMatchObject({ state: 'repeated', count: 1 })
  })

  it('forgets the key idle longest once its cooldown is over, so the state stays bounded', async () => {
    const { alerts, clock, notices } = recordingAlerts()
    for (let i = 0; i < 1_000; i++) await alerts.raise({ key: `user.${i}`, title: `User ${i}` })
    clock.advance(COOLDOWN_MS)
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' })
    // user.0 was forgotten to make room: resolving it sends nothing; user.1 is still known.
    await alerts.resolve('user.0')
    await alerts.resolve('user.1')
    await alerts.settled()
    expect(notices.slice(1_000).map((n) => `${n.state} ${n.alert.key}`)).toEqual([
      'raised payments.down',
      'resolved user.1',
    ])
  })

  it('keeps at most 1,000 notices whose write failed, dropping the oldest, and writes them in order once it can', async () => {
    const down = { value: true }
    const { alerts, notices } = recordingAlerts(down)
    for (let i = 0; i < 1_000; i++) await alerts.raise({ key: `user.${i}`, title: `User ${i}` })
    await alerts.raise({ key: 'payments.down', title: 'Payment provider down' }) // the 1,001st key
    await alerts.settled()
    expect(notices).toHaveLength(0)
    down.value = false
    await alerts.flushDue()
    await alerts.settled()
    expect(notices).toHaveLength(1_000)
    expect(notices[0]?.alert.key).toBe('user.1')
    expect(notices.at(-1)?.alert.key).toBe('mortar.alerts.overflow')
  })

  it('refuses a title of more than one line (it is a mail subject), and a detail past its bound on resolve as on raise', async () => {
    const { alerts, notices } = recordingAlerts()
    await expect(alerts.raise({ key: 'k', title: 'Down\nBcc: x' })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
    await alerts.raise({ key: 'k', title: 'Down' })
    await expect(alerts.resolve('k', 'x'.repeat(10_001))).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
    await alerts.resolve('k', 'Up again.')
    await alerts.settled()
    expect(notices.map((n) => `${n.state} ${n.alert.detail ?? ''}`)).toEqual([
      'raised ',
      'resolved Up again.',
    ])
  })
})
