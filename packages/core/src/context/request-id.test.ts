import { describe, expect, it } from 'vitest'
import { newRequestId } from './request-id.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newRequestId', () => {
  it('makes distinct version 4 UUIDs, across several refills of its random pool', () => {
    const ids = Array.from({ length: 2_000 }, () => newRequestId())
    for (const id of ids) expect(id).toMatch(UUID_V4)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('returns strings that stay the same when the next id is made', () => {
    const first = newRequestId()
    const copy = `${first}`
    newRequestId()
    expect(first).toBe(copy)
  })
})
