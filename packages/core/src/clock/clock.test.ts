import { describe, expect, it } from 'vitest'
import { CLOCK, SystemClock } from './clock.js'

describe('SystemClock', () => {
  it('reads the system time', () => {
    const clock = new SystemClock()
    const before = Date.now()
    const ms = clock.nowMs()
    const date = clock.now()
    const after = Date.now()
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(date.getTime()).toBeLessThanOrEqual(after)
    expect(date.getTime()).toBeGreaterThanOrEqual(ms)
  })
})

describe('CLOCK', () => {
  it('is a symbol token named mortar.clock', () => {
    expect(typeof CLOCK).toBe('symbol')
    expect(CLOCK.description).toBe('mortar.clock')
  })
})
