import { describe, expect, it } from 'vitest'
import { FakeClock } from './fake-clock.js'

describe('FakeClock', () => {
  it('starts at 2026-01-01T00:00:00Z by default and stands still', () => {
    const clock = new FakeClock()
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z')
    expect(clock.nowMs()).toBe(clock.nowMs())
    expect(clock.nowMs()).toBe(Date.UTC(2026, 0, 1))
  })

  it('starts at a given Date, epoch ms or ISO string', () => {
    expect(new FakeClock(new Date('2030-05-05T05:05:05Z')).now().toISOString()).toBe(
      '2030-05-05T05:05:05.000Z',
    )
    expect(new FakeClock(0).nowMs()).toBe(0)
    expect(new FakeClock('2027-02-03T04:05:06Z').nowMs()).toBe(Date.UTC(2027, 1, 3, 4, 5, 6))
  })

  it('advances by milliseconds', () => {
    const clock = new FakeClock()
    clock.advance(1500)
    clock.advance(60_000)
    expect(clock.now().toISOString()).toBe('2026-01-01T00:01:01.500Z')
  })

  it('jumps to an instant set forwards or backwards', () => {
    const clock = new FakeClock()
    clock.set(new Date('2026-06-01T00:00:00Z'))
    expect(clock.now().toISOString()).toBe('2026-06-01T00:00:00.000Z')
    clock.set(0)
    expect(clock.nowMs()).toBe(0)
  })

  it('returns a new Date each time, so callers cannot move the clock', () => {
    const clock = new FakeClock()
    clock.now().setUTCFullYear(1999)
    expect(clock.now().getUTCFullYear()).toBe(2026)
  })

  it('refuses a negative advance and an invalid instant', () => {
    const clock = new FakeClock()
    expect(() => clock.advance(-1)).toThrow(RangeError)
    expect(() => clock.set('not a date')).toThrow(RangeError)
    expect(clock.nowMs()).toBe(Date.UTC(2026, 0, 1))
  })
})
