import { describe, expect, it } from 'vitest'
import { isDeadlock } from './deadlock.js'

describe('isDeadlock', () => {
  it("knows MariaDB's and PostgreSQL's deadlock victims and nothing else", () => {
    expect(isDeadlock(Object.assign(new Error('Deadlock found'), { errno: 1213 }))).toBe(true)
    expect(isDeadlock(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true)
    // A lock wait timeout, a serialization failure, a duplicate key, and non-errors.
    expect(isDeadlock(Object.assign(new Error('Lock wait timeout'), { errno: 1205 }))).toBe(false)
    expect(isDeadlock(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(
      false,
    )
    expect(isDeadlock(Object.assign(new Error('Duplicate entry'), { errno: 1062 }))).toBe(false)
    expect(isDeadlock(undefined)).toBe(false)
    expect(isDeadlock(null)).toBe(false)
    expect(isDeadlock('1213')).toBe(false)
  })
})
