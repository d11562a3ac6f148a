import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { schedule } from './schedule.js'

const noop = () => undefined

describe('schedule', () => {
  // Its row keeps the timing in a varchar(400) and the ticks as instants. Before these were
  // refused, SQLite stored an interval of 1e300 ms as a float no clock reaches (the schedule
  // never fired), MariaDB's INSERT IGNORE clamped it to 2^63 − 1, and PostgreSQL refused it when
  // the app started; a 417-character spec was stored by SQLite and refused by the other two.
  it('refuses an interval whose ticks no Date holds, however it is written (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), (extra) => {
        const ms = 8_640_000_000_000_000 + extra
        expect(() => schedule('s', { every: ms }, noop)).toThrow(/from 1 to 8640000000000000/)
        expect(() => schedule('s', { every: `${ms}ms` }, noop)).toThrow(/every/)
        expect(() => schedule('s', { every: `${100_000_000 + extra}d` }, noop)).toThrow(/every/)
      }),
    )
    expect(() => schedule('s', { every: 1e300 }, noop)).toThrow(/every/)
    const last = schedule('s', { every: '100000000d' }, noop)
    expect(new Date(last.next(Date.UTC(2026, 0, 1))).getTime()).toBe(8_640_000_000_000_000)
  })

  it('refuses a timing longer than its row holds, and keeps one that fits', () => {
    const minutes = (length: number) => `${'0'.repeat(length)} * * * *`
    // 'cron ' + expression + ' UTC' is 400 characters at most.
    expect(schedule('s', { cron: minutes(400 - 5 - 4 - 8) }, noop).spec).toHaveLength(400)
    expect(() => schedule('s', { cron: minutes(400 - 5 - 4 - 8 + 1) }, noop)).toThrow(
      /401 characters as stored.*at most 400/,
    )
  })
})
